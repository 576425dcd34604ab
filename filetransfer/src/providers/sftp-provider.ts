import { posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import SftpClient from "ssh2-sftp-client";
import type { AddressPolicy } from "../address-policy.js";
import { ProviderError } from "../provider-error.js";
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
import { isKnownHostKey, parseKnownHosts, type KnownHostEntry } from "./known-hosts.js";

/**
 * SFTP through ssh2-sftp-client. URLs are `sftp://[user@]host[:port]/absolute/path`; a path that
 * starts with `/~/` is relative to the login directory, as curl and OpenSSH's sftp read it.
 */
export interface SftpProviderConfig {
  /** Login name when the URL names none. */
  username?: string;
  /** PEM/OpenSSH private key; tried before the password. */
  privateKey?: Buffer;
  passphrase?: string;
  password?: string;
  /** "strict" refuses any host whose key is not in knownHosts; "off" accepts any key (tests, trusted networks). */
  hostKeyChecking: "strict" | "off";
  /** Contents of an OpenSSH known_hosts file. */
  knownHosts?: string;
  /** Where knownHosts came from, named in errors. */
  knownHostsSource?: string;
  connectTimeoutInMs: number;
}

interface Connection {
  client: SftpClient;
  alive: boolean;
}

export class SftpProvider implements StorageProvider {
  readonly schemes = ["sftp"] as const;
  readonly #config: SftpProviderConfig;
  readonly #knownHosts: KnownHostEntry[];
  readonly #connections = new Map<string, Promise<Connection>>();
  readonly #addressPolicy: AddressPolicy | undefined;

  /** Every connection goes to an address the policy allows (no link-local or metadata address). */
  constructor(config: SftpProviderConfig, addressPolicy?: AddressPolicy) {
    this.#config = config;
    this.#addressPolicy = addressPolicy;
    this.#knownHosts = config.knownHosts ? parseKnownHosts(config.knownHosts) : [];
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    const path = remotePath(url);
    return this.#withClient(url, "stat", options, async (client) => {
      const kind = await client.exists(path);
      if (kind === false) return undefined;
      const stats = await client.stat(path);
      if (!stats.isFile) throw new ProviderError("invalid", `${redactUrl(url)} is not a regular file`);
      return { size: stats.size };
    });
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    const path = remotePath(url);
    const offset = options.offset ?? 0;
    return this.#withClient(url, "read", options, async (client) => {
      const stats = await statOrNotFound(client, path, url);
      if (!stats.isFile) throw new ProviderError("invalid", `${redactUrl(url)} is not a regular file`);
      const body = client.createReadStream(path, offset > 0 ? { start: offset } : {});
      const onAbort = () => body.destroy(abortError(url));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      body.once("close", () => options.signal?.removeEventListener("abort", onAbort));
      return { body: wrapStreamErrors(body, url, "read"), size: stats.size, resumed: offset > 0 };
    });
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const root = remotePath(directoryUrl);
    const client = await this.#client(directoryUrl, options);
    const rootStats = await this.#call(directoryUrl, "list", () => statOrNotFound(client, root, directoryUrl));
    if (!rootStats.isDirectory) throw new ProviderError("invalid", `${redactUrl(directoryUrl)} is not a directory`);
    const pending = [""];
    while (pending.length > 0) {
      options.signal?.throwIfAborted();
      const relativeDir = pending.shift() ?? "";
      const entries = await this.#call(directoryUrl, "list", () => client.list(posix.join(root, relativeDir)));
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        const relativePath = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
        let type = entry.type;
        let size = entry.size;
        if (type === "l") {
          // A link is listed as what it points to; a dangling link is skipped, as `find -L` would.
          const target = await client.stat(posix.join(root, relativePath)).catch(() => undefined);
          if (!target) continue;
          type = target.isDirectory ? "d" : target.isFile ? "-" : "l";
          size = target.size;
        }
        if (type === "d") pending.push(relativePath);
        else if (type === "-") yield { url: childUrl(directoryUrl, relativePath), relativePath, size };
      }
    }
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const path = remotePath(url);
    await this.#withClient(url, "write", options, async (client) => {
      const parent = posix.dirname(path);
      if ((await client.exists(parent)) !== "d") await client.mkdir(parent, true);
      const sink = client.createWriteStream(path);
      await pipeline(body, sink, options.signal ? { signal: options.signal } : {});
      const stats = await client.stat(path);
      if (stats.size !== options.size) {
        throw new ProviderError("transient", `write ${redactUrl(url)}: stored ${stats.size} bytes, expected ${options.size}`);
      }
    });
  }

  async close(): Promise<void> {
    const connections = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(
      connections.map(async (pending) => {
        const connection = await pending.catch(() => undefined);
        if (connection?.alive) await connection.client.end().catch(() => undefined);
      }),
    );
  }

  async #withClient<T>(url: URL, operation: string, options: ProviderCallOptions, action: (client: SftpClient) => Promise<T>): Promise<T> {
    const client = await this.#client(url, options);
    return this.#call(url, operation, () => action(client));
  }

  async #call<T>(url: URL, operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw toProviderError(error, url, operation);
    }
  }

  /** One SSH connection per user, host and port, reused while it lives; SFTP multiplexes requests on it. */
  async #client(url: URL, options: ProviderCallOptions): Promise<SftpClient> {
    options.signal?.throwIfAborted();
    const username = decodeURIComponent(url.username) || this.#config.username;
    if (!username) {
      throw new ProviderError("access-denied", `${redactUrl(url)}: no SFTP user name (put it in the URL or set FILETRANSFER_SFTP_USERNAME)`);
    }
    const port = url.port ? Number(url.port) : 22;
    const key = `${username}@${url.hostname}:${port}`;
    const existing = this.#connections.get(key);
    if (existing) {
      const connection = await existing.catch(() => undefined);
      if (connection?.alive) return connection.client;
      this.#connections.delete(key);
    }
    const pending = this.#connect(url, username, port);
    this.#connections.set(key, pending);
    try {
      return (await pending).client;
    } catch (error) {
      this.#connections.delete(key);
      throw error;
    }
  }

  async #connect(url: URL, username: string, port: number): Promise<Connection> {
    const connection: Connection = { client: undefined as unknown as SftpClient, alive: true };
    const markDead = () => {
      connection.alive = false;
    };
    connection.client = new SftpClient("filetransfer", { error: markDead, end: markDead, close: markDead });
    const hostKeyRejected = { value: false };
    const password = decodeURIComponent(url.password) || this.#config.password;
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const address = this.#addressPolicy ? await this.#addressPolicy.resolveAllowed(hostname) : hostname;
    try {
      await connection.client.connect({
        host: address,
        port,
        username,
        ...(this.#config.privateKey ? { privateKey: this.#config.privateKey } : {}),
        ...(this.#config.passphrase ? { passphrase: this.#config.passphrase } : {}),
        ...(password ? { password } : {}),
        readyTimeout: this.#config.connectTimeoutInMs,
        // The engine retries; a second retry loop here would multiply the waits.
        retries: 0,
        hostVerifier: (key: Buffer) => {
          if (this.#config.hostKeyChecking === "off") return true;
          const known = isKnownHostKey(this.#knownHosts, hostname, port, key);
          if (!known) hostKeyRejected.value = true;
          return known;
        },
      });
    } catch (error) {
      connection.alive = false;
      await connection.client.end().catch(() => undefined);
      if (hostKeyRejected.value) {
        const source = this.#config.knownHostsSource ?? "no known_hosts file";
        throw new ProviderError(
          "access-denied",
          `connect ${redactUrl(url)}: the server's host key is not in ${source} (set FILETRANSFER_SFTP_KNOWN_HOSTS_FILE, or FILETRANSFER_SFTP_HOST_KEY_CHECKING=off)`,
        );
      }
      throw toProviderError(error, url, "connect");
    }
    return connection;
  }
}

function remotePath(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  if (path.startsWith("/~/")) return path.slice(3) || ".";
  return path || "/";
}

function childUrl(directoryUrl: URL, relativePath: string): URL {
  const child = new URL(directoryUrl.href);
  const base = child.pathname.endsWith("/") ? child.pathname : `${child.pathname}/`;
  child.pathname = base + relativePath.split("/").map(encodeURIComponent).join("/");
  return child;
}

async function statOrNotFound(client: SftpClient, path: string, url: URL): Promise<SftpClient.FileStats> {
  try {
    return await client.stat(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") throw new ProviderError("not-found", `${redactUrl(url)} does not exist`);
    throw error;
  }
}

function wrapStreamErrors(body: Readable, url: URL, operation: string): Readable {
  const original = body.destroy.bind(body);
  body.destroy = (error?: Error) => original(error && !(error instanceof ProviderError) ? toProviderError(error, url, operation) : error);
  return body;
}

function abortError(url: URL): Error {
  const error = new Error(`read ${redactUrl(url)}: aborted`);
  error.name = "AbortError";
  return error;
}

/** Maps ssh2 and ssh2-sftp-client errors to the engine's kinds, with a message free of secrets. */
export function toProviderError(error: unknown, url: URL, operation: string): Error {
  if (error instanceof ProviderError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const err = error as { code?: unknown; level?: unknown; message?: unknown };
  const message = typeof err.message === "string" ? err.message.replace(/^\w+: /, "") : String(error);
  const where = `${operation} ${redactUrl(url)}`;
  if (err.code === "ENOENT" || err.code === 2) return new ProviderError("not-found", `${where}: does not exist`);
  if (err.level === "client-authentication" || /authentication methods failed/i.test(message)) {
    return new ProviderError("access-denied", `${where}: the server refused the credentials`);
  }
  if (err.code === "EACCES" || err.code === 3 || /permission denied/i.test(message)) {
    return new ProviderError("access-denied", `${where}: permission denied`);
  }
  return new ProviderError("transient", `${where}: ${stripPaths(message)}`);
}

/** ssh2-sftp-client prefixes messages with its own method names; keep only the reason. */
function stripPaths(message: string): string {
  return message.replace(/^[a-zA-Z_]+: /, "");
}
