import type { ListedObject, ObjectInfo, ProviderCallOptions, ReadOptions, ReadResult, StorageProvider, WriteOptions } from "./storage-provider.js";
import type { Readable } from "node:stream";
import { ProviderError } from "./provider-error.js";

/**
 * A provider whose module (and its SDK) is imported on first use, so a run that moves only HTTP
 * files never loads the Azure, AWS or Google clients: faster start, smaller memory footprint.
 * `handles` must be answerable without the SDK.
 */
export function lazyProvider(description: { schemes: readonly string[]; handles?: (url: URL) => boolean; load: () => Promise<StorageProvider> }): StorageProvider {
  let loaded: Promise<StorageProvider> | undefined;
  // A provider that cannot be set up (a bad setting) fails every file it is asked for, without retries.
  const get = (): Promise<StorageProvider> =>
    (loaded ??= description.load().catch((error: unknown) => {
      throw error instanceof ProviderError ? error : new ProviderError("invalid", `the ${description.schemes.join("/")} provider cannot start: ${(error as Error).message}`, { cause: error });
    }));
  const provider: StorageProvider = {
    schemes: description.schemes,
    stat: async (url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> => (await get()).stat(url, options),
    read: async (url: URL, options: ReadOptions): Promise<ReadResult> => (await get()).read(url, options),
    list: (directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> => ({
      async *[Symbol.asyncIterator]() {
        yield* (await get()).list(directoryUrl, options);
      },
    }),
    write: async (url: URL, body: Readable, options: WriteOptions): Promise<void> => (await get()).write(url, body, options),
    close: async (): Promise<void> => {
      if (loaded) await (await loaded).close?.();
    },
  };
  if (description.handles) provider.handles = description.handles;
  return provider;
}
