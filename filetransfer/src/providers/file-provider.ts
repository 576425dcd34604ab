import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, opendir, realpath, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ProviderError } from "../provider-error.js";
import type { ListedObject, ObjectInfo, ProviderCallOptions, ReadOptions, ReadResult, StorageProvider, WriteOptions } from "../storage-provider.js";

/**
 * file:// URLs on the compute node, limited to the allowed directories (shared mounts, say), so a
 * task cannot read the node's own files. The check is made on real paths, after symlinks.
 */
export class FileProvider implements StorageProvider {
  readonly schemes = ["file"] as const;
  readonly #allowedDirs: readonly string[];

  constructor(allowedDirs: readonly string[]) {
    this.#allowedDirs = allowedDirs.map((dir) => path.resolve(dir));
  }

  async stat(url: URL, _options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    const file = await this.#existing(url);
    if (file === undefined) return undefined;
    const stats = await stat(file);
    return stats.isFile() ? { size: stats.size } : undefined;
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    const file = await this.#existing(url);
    const stats = file === undefined ? undefined : await stat(file);
    if (file === undefined || !stats?.isFile()) throw new ProviderError("not-found", `${url.href} does not exist or is not a file`);
    const offset = Math.min(options.offset ?? 0, stats.size);
    const body = createReadStream(file, { start: offset, ...(options.signal ? { signal: options.signal } : {}) });
    return { body, size: stats.size, resumed: true };
  }

  async *list(directoryUrl: URL, _options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const dir = await this.#existing(directoryUrl);
    if (dir === undefined || !(await stat(dir)).isDirectory()) {
      throw new ProviderError("not-found", `${directoryUrl.href} does not exist or is not a directory`);
    }
    const walk = async function* (this: FileProvider, current: string, prefix: string): AsyncGenerator<ListedObject> {
      const entries = [];
      for await (const entry of await opendir(current)) entries.push(entry);
      entries.sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const entry of entries) {
        const full = path.join(current, entry.name);
        const relativePath = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) yield* walk.call(this, full, relativePath);
        else if (entry.isFile()) yield { url: pathToFileURL(full), relativePath, size: (await stat(full)).size };
      }
    };
    yield* walk.call(this, dir, "");
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const file = this.#allowedPath(url);
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    await this.#assertAllowed(await realpath(dir), url);
    const temp = path.join(dir, `.${path.basename(file)}.filetransfer-${process.pid}-${Date.now()}.part`);
    try {
      await pipeline(body, createWriteStream(temp), options.signal ? { signal: options.signal } : {});
      await rename(temp, file);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /** The real path of an existing file under an allowed directory, or undefined if none exists. */
  async #existing(url: URL): Promise<string | undefined> {
    const file = this.#allowedPath(url);
    const real = await realpath(file).catch(() => undefined);
    if (real !== undefined) await this.#assertAllowed(real, url);
    return real;
  }

  #allowedPath(url: URL): string {
    if (url.host !== "" && url.host !== "localhost") throw new ProviderError("invalid", `${url.href}: file URLs must not name a host`);
    const file = path.resolve(fileURLToPath(url));
    if (this.#allowedDirs.length === 0) {
      throw new ProviderError("access-denied", `${url.href}: file URLs are not allowed here (no FILETRANSFER_ALLOWED_DIRS)`);
    }
    if (!this.#allowedDirs.some((dir) => isInside(file, dir))) {
      throw new ProviderError("access-denied", `${url.href}: not under an allowed directory (${this.#allowedDirs.join(":")})`);
    }
    return file;
  }

  async #assertAllowed(real: string, url: URL): Promise<void> {
    const realDirs = await Promise.all(this.#allowedDirs.map((dir) => realpath(dir).catch(() => dir)));
    if (!realDirs.some((dir) => isInside(real, dir))) {
      throw new ProviderError("access-denied", `${url.href}: leads outside the allowed directories through a symlink`);
    }
  }
}

function isInside(file: string, dir: string): boolean {
  return file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}
