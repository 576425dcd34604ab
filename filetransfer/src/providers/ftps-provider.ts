import { createHash } from "node:crypto";
import { posix } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { Client, FTPError, type FileInfo } from "basic-ftp";
import { isIP } from "node:net";
import type { AddressPolicy } from "../address-policy.js";
import { abortError, ProviderError } from "../provider-error.js";
import { redactUrl } from "../redact.js";
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
 * FTP over TLS through basic-ftp. URLs are `ftps://[user@]host[:port]/path`; the path is taken from
 * the server's root for the login (a chrooted user's home on most servers). Plain FTP is not offered:
 * it would send the password in the clear.
 */
export interface FtpsProviderConfig {
  username?: string;
  password?: string;
  /** "explicit" (AUTH TLS on the control port, RFC 4217, default port 21) or "implicit" (TLS from the first byte, port 990). */
  tlsMode: "explicit" | "implicit";
  /** Extra CA certificates (PEM) to trust, for servers with a private CA. */
  ca?: Buffer;
  /** Accept any server certificate. Only for tests and trusted networks. */
  insecureTls: boolean;
  /** Socket inactivity timeout. */
  timeoutInMs: number;
}

/** FTP runs one command at a time per connection, so idle logged-in connections are kept per host and user. */
const MAX_IDLE_CONNECTIONS_PER_HOST = 4;

export class FtpsProvider implements StorageProvider {
  readonly schemes = ["ftps"] as const;
  readonly #config: FtpsProviderConfig;
  readonly #idle = new Map<string, Client[]>();
  readonly #addressPolicy: AddressPolicy | undefined;

  /** Every connection goes to an address the policy allows (no link-local or metadata address). */
  constructor(config: FtpsProviderConfig, addressPolicy?: AddressPolicy) {
    this.#config = config;
    this.#addressPolicy = addressPolicy;
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    return this.#session(url, "stat", options, async (client) => {
      const size = await sizeOf(client, remotePath(url));
      return size === undefined ? undefined : { size };
    });
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    const path = remotePath(url);
    const offset = options.offset ?? 0;
    const client = await this.#acquire(url, options);
    let size: number | undefined;
    try {
      size = await sizeOf(client, path);
    } catch (error) {
      this.#discard(client);
      throw toProviderError(error, url, "read");
    }
    if (size === undefined) {
      this.#release(url, client);
      throw new ProviderError("not-found", `read ${redactUrl(url)}: does not exist`);
    }
    const body = new PassThrough();
    const onAbort = () => client.close();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // basic-ftp ends its destination even when the transfer fails, so it writes into a sink that
    // never ends `body`: the body ends only after the server confirmed the whole file.
    client
      .downloadTo(forwardWithoutEnd(body), path, offset)
      .then(
        () => {
          body.end();
          this.#release(url, client);
        },
        (error: unknown) => {
          body.destroy(options.signal?.aborted ? abortError(url, "read") : toProviderError(error, url, "read"));
          this.#discard(client);
        },
      )
      .finally(() => options.signal?.removeEventListener("abort", onAbort));
    // Closing the body early (the consumer gave up) must not leave the transfer hanging.
    body.once("close", () => {
      if (!body.writableFinished) client.close();
    });
    return { body, size, resumed: offset > 0 };
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const root = remotePath(directoryUrl);
    const client = await this.#acquire(directoryUrl, options);
    let ok = false;
    try {
      try {
        await client.cd(root);
      } catch (error) {
        if (error instanceof FTPError && error.code === 550) {
          throw new ProviderError("not-found", `list ${redactUrl(directoryUrl)}: no such directory`);
        }
        throw error;
      }
      const pending = [""];
      while (pending.length > 0) {
        options.signal?.throwIfAborted();
        const relativeDir = pending.shift() ?? "";
        const entries: FileInfo[] = await client.list(posix.join(root, relativeDir));
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const entry of entries) {
          if (entry.name === "." || entry.name === "..") continue;
          const relativePath = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
          if (entry.isDirectory) pending.push(relativePath);
          else if (entry.isFile) yield { url: childUrl(directoryUrl, relativePath), relativePath, size: entry.size };
        }
      }
      ok = true;
    } catch (error) {
      throw toProviderError(error, directoryUrl, "list");
    } finally {
      if (ok) this.#release(directoryUrl, client);
      else this.#discard(client);
    }
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const path = remotePath(url);
    await this.#session(url, "write", options, async (client) => {
      const onAbort = () => client.close();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await client.ensureDir(posix.dirname(path));
        await client.uploadFrom(options.size === 0 ? emptyBodyAfterHandshake() : body, path);
      } finally {
        options.signal?.removeEventListener("abort", onAbort);
      }
      options.signal?.throwIfAborted();
      const stored = await sizeOf(client, path);
      if (stored !== options.size) {
        throw new ProviderError("transient", `write ${redactUrl(url)}: stored ${stored ?? "no"} bytes, expected ${options.size}`);
      }
    });
  }

  async close(): Promise<void> {
    for (const clients of this.#idle.values()) for (const client of clients) client.close();
    this.#idle.clear();
  }

  async #session<T>(url: URL, operation: string, options: ProviderCallOptions, action: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.#acquire(url, options);
    try {
      const result = await action(client);
      this.#release(url, client);
      return result;
    } catch (error) {
      this.#discard(client);
      if (options.signal?.aborted) throw abortError(url, operation);
      throw toProviderError(error, url, operation);
    }
  }

  async #acquire(url: URL, options: ProviderCallOptions): Promise<Client> {
    options.signal?.throwIfAborted();
    const idle = this.#idle.get(connectionKey(url, this.#config));
    while (idle && idle.length > 0) {
      const client = idle.pop();
      if (client && !client.closed) return client;
    }
    const user = decodeURIComponent(url.username) || this.#config.username;
    const password = decodeURIComponent(url.password) || this.#config.password;
    if (!user || password === undefined) {
      throw new ProviderError(
        "access-denied",
        `connect ${redactUrl(url)}: no FTP credentials (set FILETRANSFER_FTPS_USERNAME and FILETRANSFER_FTPS_PASSWORD)`,
      );
    }
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const address = this.#addressPolicy ? await this.#addressPolicy.resolveAllowed(hostname) : hostname;
    // Data connections go to the control connection's address, whatever PASV announces: a server
    // cannot point us at another host (a metadata address, say).
    const client = new Client(this.#config.timeoutInMs, { allowSeparateTransferHost: false });
    try {
      await client.access({
        host: address,
        port: url.port ? Number(url.port) : this.#config.tlsMode === "implicit" ? 990 : 21,
        user,
        password,
        secure: this.#config.tlsMode === "implicit" ? "implicit" : true,
        secureOptions: {
          // The certificate is checked against the name in the URL, not the address it resolved to.
          ...(isIP(hostname) ? {} : { servername: hostname }),
          ...(this.#config.ca ? { ca: this.#config.ca } : {}),
          rejectUnauthorized: !this.#config.insecureTls,
        },
      });
    } catch (error) {
      client.close();
      throw toProviderError(error, url, "connect");
    }
    return client;
  }

  #release(url: URL, client: Client): void {
    if (client.closed) return;
    const key = connectionKey(url, this.#config);
    const idle = this.#idle.get(key) ?? [];
    if (idle.length >= MAX_IDLE_CONNECTIONS_PER_HOST) {
      client.close();
      return;
    }
    idle.push(client);
    this.#idle.set(key, idle);
  }

  #discard(client: Client): void {
    client.close();
  }
}

/** Connections are shared only between URLs that log in the same way (a URL's own password included). */
function connectionKey(url: URL, config: FtpsProviderConfig): string {
  const user = decodeURIComponent(url.username) || config.username || "";
  const password = decodeURIComponent(url.password) || config.password || "";
  return `${user}:${createHash("sha256").update(password).digest("hex")}@${url.hostname}:${url.port}`;
}

function remotePath(url: URL): string {
  return decodeURIComponent(url.pathname) || "/";
}

function childUrl(directoryUrl: URL, relativePath: string): URL {
  const child = new URL(directoryUrl.href);
  const base = child.pathname.endsWith("/") ? child.pathname : `${child.pathname}/`;
  child.pathname = base + relativePath.split("/").map(encodeURIComponent).join("/");
  return child;
}

/** SIZE of a regular file, or undefined when the server says there is none (550). */
async function sizeOf(client: Client, path: string): Promise<number | undefined> {
  try {
    return await client.size(path);
  } catch (error) {
    if (error instanceof FTPError && error.code === 550) return undefined;
    throw error;
  }
}

/**
 * The body of an empty upload. Closing the TLS data connection right after its handshake makes
 * vsftpd 3 fail the transfer (a TLS decode error on 1.3, a dead session on 1.2); curl gets away
 * with it by being slower. Nothing signals when the server is ready, so the empty body ends after
 * a grace period. Only zero-byte files pay it.
 */
const EMPTY_UPLOAD_GRACE_MS = 500;

function emptyBodyAfterHandshake(): Readable {
  return new Readable({
    read() {
      setTimeout(() => this.push(null), EMPTY_UPLOAD_GRACE_MS);
    },
  });
}

/** A sink that passes chunks on with backpressure but leaves ending `target` to its owner. */
function forwardWithoutEnd(target: PassThrough): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (target.destroyed) return callback(new Error("the reader closed the stream"));
      if (target.write(chunk)) callback();
      else target.once("drain", () => callback());
    },
    final(callback) {
      callback();
    },
  });
}

export function toProviderError(error: unknown, url: URL, operation: string): Error {
  if (error instanceof ProviderError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const where = `${operation} ${redactUrl(url)}`;
  if (error instanceof FTPError) {
    const reason = error.message.replace(/^\d{3}\s*/, "");
    if (error.code === 530) return new ProviderError("access-denied", `${where}: the server refused the login (${reason})`);
    if (error.code === 550) return new ProviderError("not-found", `${where}: ${reason}`);
    if (error.code === 553 || error.code === 532) return new ProviderError("access-denied", `${where}: ${reason}`);
    if (error.code >= 500) return new ProviderError("invalid", `${where}: ${reason}`);
    return new ProviderError("transient", `${where}: ${reason}`);
  }
  const err = error as { code?: unknown; message?: unknown };
  if (typeof err.code === "string" && /^(ERR_TLS_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_)/.test(err.code)) {
    return new ProviderError("access-denied", `${where}: the server's TLS certificate is not trusted (${err.code})`);
  }
  const message = typeof err.message === "string" ? err.message : String(error);
  return new ProviderError("transient", `${where}: ${message}`);
}
