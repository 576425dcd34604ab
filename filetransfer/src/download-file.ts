import { createHash, randomBytes } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { LocalFileError, ProviderError } from "./provider-error.js";
import { redactUrl } from "./redact.js";
import { withRetries, type RetryOptions } from "./retry.js";
import { StallWatchdog } from "./stall-watchdog.js";
import type { StorageProvider } from "./storage-provider.js";

export interface DownloadFileOptions {
  retry: RetryOptions;
  /** An attempt that moves no byte for this long is abandoned and retried. */
  idleTimeoutInMs: number;
  signal?: AbortSignal;
  onBytes?: (count: number) => void;
  onRetry?: (error: unknown, attemptNumber: number, delayInMs: number) => void;
}

export interface DownloadResult {
  bytes: number;
  /** True when the store announced an MD5 and the bytes matched it. */
  md5Verified: boolean;
}

/**
 * Streams one object into `target` through a temporary file beside it, renamed into place only
 * when complete and verified. A dropped connection is retried and, when the provider honours
 * offsets, resumed where it stopped; the MD5 is carried across resumed attempts.
 */
export async function downloadFile(provider: StorageProvider, url: URL, target: string, options: DownloadFileOptions): Promise<DownloadResult> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.filetransfer-${randomBytes(6).toString("hex")}.part`);
  const handle = await open(temp, "w").catch((error: unknown) => {
    throw new LocalFileError(`cannot create ${path.basename(target)}: ${(error as Error).message}`);
  });
  let written = 0;
  let hash = createHash("md5");
  let expectedMd5: Buffer | undefined;
  let expectedSize: number | undefined;
  const restart = async (): Promise<void> => {
    options.onBytes?.(-written);
    written = 0;
    hash = createHash("md5");
    await handle.truncate(0);
  };
  try {
    await withRetries(
      async () => {
        const watchdog = new StallWatchdog(options.idleTimeoutInMs, options.signal, redactUrl(url));
        try {
          await attempt(watchdog);
        } catch (error) {
          throw watchdog.stalledError() ?? error;
        } finally {
          watchdog.stop();
        }
      },
      options.retry,
      options.onRetry,
    );
    await handle.close();
    await rename(temp, target).catch((error: unknown) => {
      throw new LocalFileError(`cannot move the download into place: ${(error as Error).message}`);
    });
    return { bytes: written, md5Verified: expectedMd5 !== undefined };
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }

  async function attempt(watchdog: StallWatchdog): Promise<void> {
    const result = await provider.read(url, { offset: written, signal: watchdog.signal });
    watchdog.signal.addEventListener("abort", () => result.body.destroy(), { once: true });
    if (written > 0 && !result.resumed) await restart();
    expectedMd5 ??= result.md5;
    if (result.size !== undefined) expectedSize = result.size;
    try {
      for await (const chunk of result.body as AsyncIterable<Buffer>) {
        await writeAll(handle, chunk, written);
        hash.update(chunk);
        written += chunk.length;
        options.onBytes?.(chunk.length);
        watchdog.progress();
      }
    } catch (error) {
      if (error instanceof LocalFileError || error instanceof ProviderError || options.signal?.aborted) throw error;
      // Client libraries word a dropped connection many ways ("aborted", "socket hang up"): say what happened.
      const reason = error instanceof Error ? error.message : String(error);
      throw new ProviderError("transient", `${redactUrl(url)}: the transfer broke off after ${written} bytes (${reason})`, { cause: error });
    }
    if (expectedSize !== undefined && written !== expectedSize) {
      throw new ProviderError("transient", `${redactUrl(url)}: the connection ended after ${written} of ${expectedSize} bytes`);
    }
    if (expectedMd5 !== undefined) {
      const actual = hash.copy().digest();
      if (!actual.equals(expectedMd5)) {
        const message = `${redactUrl(url)}: MD5 mismatch (the store says ${expectedMd5.toString("base64")}, the bytes received hash to ${actual.toString("base64")})`;
        await restart();
        expectedMd5 = undefined;
        throw new ProviderError("integrity", message);
      }
    }
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  try {
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done);
      done += bytesWritten;
    }
  } catch (error) {
    throw new LocalFileError(`writing to the task directory failed: ${(error as Error).message}`);
  }
}
