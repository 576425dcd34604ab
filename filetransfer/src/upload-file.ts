import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Transform } from "node:stream";
import { LocalFileError, ProviderError } from "./provider-error.js";
import { redactUrl } from "./redact.js";
import { withRetries, type RetryOptions } from "./retry.js";
import { StallWatchdog } from "./stall-watchdog.js";
import type { StorageProvider } from "./storage-provider.js";

export interface UploadFileOptions {
  retry: RetryOptions;
  /** An attempt that moves no byte for this long is abandoned and retried. */
  idleTimeoutInMs: number;
  /** Compute the file's MD5 first (one extra read) and hand it to the provider. */
  checksum: boolean;
  signal?: AbortSignal;
  onBytes?: (count: number) => void;
  onRetry?: (error: unknown, attemptNumber: number, delayInMs: number) => void;
}

/** Streams one local file to `url`, retried from the start on transient failures. Returns its size. */
export async function uploadFile(provider: StorageProvider, url: URL, source: string, options: UploadFileOptions): Promise<number> {
  const stats = await stat(source).catch((error: unknown) => {
    throw new LocalFileError(`cannot read the output file: ${(error as Error).message}`);
  });
  if (!stats.isFile()) throw new LocalFileError("the output is not a regular file");
  const size = stats.size;
  const md5 = options.checksum ? await md5OfFile(source, options.signal) : undefined;
  await withRetries(
    async () => {
      let sent = 0;
      const watchdog = new StallWatchdog(options.idleTimeoutInMs, options.signal, redactUrl(url));
      const file = createReadStream(source);
      const body = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          sent += chunk.length;
          options.onBytes?.(chunk.length);
          watchdog.progress();
          callback(null, chunk);
        },
      });
      watchdog.signal.addEventListener("abort", () => body.destroy(watchdog.stalledError()), { once: true });
      file.once("error", (error) => body.destroy(new LocalFileError(`reading the output file failed: ${error.message}`)));
      file.pipe(body);
      try {
        await provider.write(url, body, { size, ...(md5 ? { md5 } : {}), signal: watchdog.signal });
      } catch (error) {
        options.onBytes?.(-sent);
        file.destroy();
        body.destroy();
        throw watchdog.stalledError() ?? error;
      } finally {
        watchdog.stop();
      }
      if (sent !== size) {
        // The store took what it was given; a file that changed while being sent must not pass as uploaded.
        throw new ProviderError("integrity", `${redactUrl(url)}: sent ${sent} bytes, but the file had ${size} when the upload began`);
      }
    },
    options.retry,
    options.onRetry,
  );
  return size;
}

async function md5OfFile(file: string, signal: AbortSignal | undefined): Promise<Buffer> {
  const hash = createHash("md5");
  try {
    for await (const chunk of createReadStream(file, signal ? { signal } : {}) as AsyncIterable<Buffer>) hash.update(chunk);
  } catch (error) {
    throw new LocalFileError(`reading the output file failed: ${(error as Error).message}`);
  }
  return hash.digest();
}
