import type { Readable } from "node:stream";
import type {
  ListedObject,
  ObjectInfo,
  ProviderCallOptions,
  ReadOptions,
  ReadResult,
  StorageProvider,
  WriteOptions,
} from "../storage-provider.js";

/**
 * A provider whose module (and client library) loads on first use. The AWS and Google SDKs take
 * seconds to load on a small node; a run that moves only https files should not pay for them.
 */
export class LazyProvider implements StorageProvider {
  readonly schemes: readonly string[];
  readonly #load: () => Promise<StorageProvider>;
  #provider: Promise<StorageProvider> | undefined;

  constructor(schemes: readonly string[], load: () => Promise<StorageProvider>) {
    this.schemes = schemes;
    this.#load = load;
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    return (await this.#get()).stat(url, options);
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    return (await this.#get()).read(url, options);
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    yield* (await this.#get()).list(directoryUrl, options);
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    return (await this.#get()).write(url, body, options);
  }

  async close(): Promise<void> {
    if (this.#provider) await (await this.#provider).close?.();
  }

  #get(): Promise<StorageProvider> {
    this.#provider ??= this.#load();
    return this.#provider;
  }
}
