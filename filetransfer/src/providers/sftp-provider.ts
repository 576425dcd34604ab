import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import SftpClient from "ssh2-sftp-client";
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
import type { SFTPWrapper } from "ssh2";
import { isKnownHostKey, parseKnownHosts, type KnownHostEntry } from "./known-hosts.js";
import { openHandle, pipelinedReadStream, pipelinedWriteStream } from "./sftp-pipelined-streams.js";

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
  /**
   * Aborted when the connection dies. ssh2 leaves requests made after that unanswered (a stream's
   * final close among them), so streams are settled from here rather than left waiting.
   */
  lost: AbortController;
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
    return this.#withClient(url, "read", options, async (client, lost) => {
      const stats = await statOrNotFound(client, path, url);
      if (!stats.isFile) throw new ProviderError("invalid", `${redactUrl(url)} is not a regular file`);
      const sftp = sftpOf(client);
      const handle = await openHandle(sftp, path, "r");
      const body = wrapStreamErrors(pipelinedReadStream(sftp, handle, offset, stats.size), url, "read");
      const onAbort = () => body.destroy(abortError(url, "read"));
      const onLost = () => body.destroy(connectionLost(url, "read"));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      lost.signal.addEventListener("abort", onLost, { once: true });
      body.once("close", () => {
        options.signal?.removeEventListener("abort", onAbort);
        lost.signal.removeEventListener("abort", onLost);
      });
      return { body, size: stats.size, resumed: offset > 0 };
    });
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const root = remotePath(directoryUrl);
    const { client } = await this.#client(directoryUrl, options);
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
          // A link to a file is listed as that file; links to directories are not followed (a link
          // to an ancestor would never end), nor are dangling ones, as the local directory walk does.
          const target = await client.stat(posix.join(root, relativePath)).catch(() => undefined);
          if (!target?.isFile) continue;
          type = "-";
          size = target.size;
        }
        if (type === "d") pending.push(relativePath);
        else if (type === "-") yield { url: childUrl(directoryUrl, relativePath), relativePath, size };
      }
    }
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const path = remotePath(url);
    await this.#withClient(url, "write", options, async (client, lost) => {
      const parent = posix.dirname(path);
      await ensureDirectory(client, parent);
      const sftp = sftpOf(client);
      const sink = pipelinedWriteStream(sftp, await openHandle(sftp, path, "w"));
      sink.on("error", () => undefined); // a second error after a drop; pipeline has the first
      await new Promise<void>((resolve, reject) => {
        const onLost = () => {
          body.destroy();
          reject(connectionLost(url, "write"));
        };
        if (lost.signal.aborted) return onLost();
        lost.signal.addEventListener("abort", onLost, { once: true });
        pipeline(body, sink, options.signal ? { signal: options.signal } : {})
          .then(resolve, reject)
          .finally(() => lost.signal.removeEventListener("abort", onLost));
      });
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

  async #withClient<T>(
    url: URL,
    operation: string,
    options: ProviderCallOptions,
    action: (client: SftpClient, lost: AbortController) => Promise<T>,
  ): Promise<T> {
    const connection = await this.#client(url, options);
    return this.#call(url, operation, () => action(connection.client, connection.lost));
  }

  async #call<T>(url: URL, operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw toProviderError(error, url, operation);
    }
  }

  /** One SSH connection per user, host and port, reused while it lives; SFTP multiplexes requests on it. */
  async #client(url: URL, options: ProviderCallOptions): Promise<Connection> {
    options.signal?.throwIfAborted();
    const username = decodeURIComponent(url.username) || this.#config.username;
    if (!username) {
      throw new ProviderError("access-denied", `${redactUrl(url)}: no SFTP user name (put it in the URL or set FILETRANSFER_SFTP_USERNAME)`);
    }
    const port = url.port ? Number(url.port) : 22;
    // Connections are shared only between URLs that log in the same way (a URL's own password included).
    const password = decodeURIComponent(url.password);
    const key = `${username}:${createHash("sha256").update(password).digest("hex")}@${url.hostname}:${port}`;
    const existing = this.#connections.get(key);
    if (existing) {
      const connection = await existing.catch(() => undefined);
      if (connection?.alive) return connection;
      this.#connections.delete(key);
    }
    const pending = this.#connect(url, username, port);
    this.#connections.set(key, pending);
    try {
      return await pending;
    } catch (error) {
      this.#connections.delete(key);
      throw error;
    }
  }

  async #connect(url: URL, username: string, port: number): Promise<Connection> {
    const connection: Connection = { client: undefined as unknown as SftpClient, alive: true, lost: new AbortController() };
    const markDead = () => {
      connection.alive = false;
      connection.lost.abort();
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
      // A failed handshake or login can leave ssh2's socket (and its ready timer) open; end() only
      // acts on a connected client, so close the underlying socket directly.
      (connection.client as unknown as { client?: { destroy?: () => void } }).client?.destroy?.();
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

/** Creates `dir` and its parents; another upload creating it at the same moment is no failure. */
async function ensureDirectory(client: SftpClient, dir: string): Promise<void> {
  if ((await client.exists(dir)) === "d") return;
  const parent = posix.dirname(dir);
  if (parent !== dir) await ensureDirectory(client, parent);
  try {
    await client.mkdir(dir, false);
  } catch (error) {
    if ((await client.exists(dir)) !== "d") throw error;
  }
}

/** ssh2-sftp-client's SFTP session (set once connected; its typings leave it out). */
function sftpOf(client: SftpClient): SFTPWrapper {
  const sftp = (client as unknown as { sftp?: SFTPWrapper }).sftp;
  if (!sftp) throw new ProviderError("transient", "the SFTP session is not open");
  return sftp;
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
  // When the connection drops, ssh2 fails the pending read and then the handle's close as well, so
  // the stream can emit a second error after the first; the reader has its answer by then.
  body.on("error", () => undefined);
  return body;
}

function connectionLost(url: URL, operation: string): ProviderError {
  return new ProviderError("transient", `${operation} ${redactUrl(url)}: the connection to the server was lost`);
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
