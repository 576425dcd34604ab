import { resolve } from "node:path";
import { inspect } from "node:util";
import { ConfigError, EnvReader, type Env } from "./env-reader.js";

/**
 * Where tasks are kept. DATABASE_URL set: PostgreSQL (production, several server and worker
 * processes). Unset: an embedded SQLite file under TES_DATA_DIR (one machine).
 */
export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

export interface SqliteStoreConfig {
  readonly kind: "sqlite";
  /** TES_DATA_DIR/tes.sqlite; TES_DATA_DIR defaults to ./data, resolved against the working directory. */
  readonly path: string;
  /** TES_SQLITE_BUSY_TIMEOUT_MS: how long a write waits for another process's lock. Default 5000. */
  readonly busyTimeoutInMs: number;
  /** TES_TASK_VIEW_CACHE_BYTES: see TaskViewCache. Default 16 MiB. */
  readonly viewCacheBytes: number;
}

export interface PostgresStoreConfig {
  readonly kind: "postgres";
  /** DATABASE_URL: postgres://user:password@host:port/db[?sslmode=...]. Never logged with its password. */
  readonly url: DatabaseUrl;
  /** TES_DATABASE_POOL_SIZE: connections per process. Default 10. */
  readonly poolSize: number;
  /** TES_DATABASE_SCHEMA: the schema the tables live in (search_path). Default: the server's default, usually "public". */
  readonly schema: string | undefined;
  /** TES_DATABASE_CONNECT_TIMEOUT_MS: how long to wait for a new connection. Default 10000. */
  readonly connectTimeoutInMs: number;
  /** TES_DATABASE_STATEMENT_TIMEOUT_MS: the longest a query may run; 0 for no limit. Default 30000. */
  readonly statementTimeoutInMs: number;
  /** TES_TASK_VIEW_CACHE_BYTES: see TaskViewCache. Default 16 MiB. */
  readonly viewCacheBytes: number;
}

/**
 * A database URL that prints without its password: in logs, JSON, util.inspect and template
 * strings alike. Only the store's driver asks for the real one, through reveal().
 */
export class DatabaseUrl {
  readonly #url: URL;

  constructor(url: URL) {
    this.#url = url;
  }

  reveal(): string {
    return this.#url.href;
  }

  toString(): string {
    const shown = new URL(this.#url.href);
    if (shown.password !== "") shown.password = "***";
    for (const key of [...shown.searchParams.keys()]) {
      if (/password|secret|key/i.test(key)) shown.searchParams.set(key, "***");
    }
    return shown.href;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return `DatabaseUrl(${this.toString()})`;
  }
}

export function loadStoreConfig(env: Env): StoreConfig {
  const read = new EnvReader(env);
  const url = read.optionalUrl("DATABASE_URL");
  if (url === undefined) {
    return {
      kind: "sqlite",
      path: resolve(read.string("TES_DATA_DIR", "./data"), "tes.sqlite"),
      busyTimeoutInMs: read.integer("TES_SQLITE_BUSY_TIMEOUT_MS", 5000, { min: 0, max: 600_000 }),
      viewCacheBytes: readViewCacheBytes(read),
    };
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(`DATABASE_URL must be a postgres:// or postgresql:// URL, got a ${url.protocol}// URL`);
  }
  const schema = read.optionalString("TES_DATABASE_SCHEMA");
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(`TES_DATABASE_SCHEMA must be 1 to 63 lowercase letters, digits or "_", not starting with a digit, got "${schema}"`);
  }
  return {
    kind: "postgres",
    url: new DatabaseUrl(url),
    poolSize: read.integer("TES_DATABASE_POOL_SIZE", 10, { min: 1, max: 1000 }),
    schema,
    connectTimeoutInMs: read.integer("TES_DATABASE_CONNECT_TIMEOUT_MS", 10_000, { min: 100, max: 600_000 }),
    statementTimeoutInMs: read.integer("TES_DATABASE_STATEMENT_TIMEOUT_MS", 30_000, { min: 0, max: 3_600_000 }),
    viewCacheBytes: readViewCacheBytes(read),
  };
}

/** The bytes of stored task documents whose decoded views a process keeps for GetTask; 0 turns it off. */
function readViewCacheBytes(read: EnvReader): number {
  return read.integer("TES_TASK_VIEW_CACHE_BYTES", 16 * 1024 * 1024, { min: 0, max: 1024 * 1024 * 1024 });
}

/** One line for the start-up log: which store, where, without secrets. */
export function describeStoreConfig(config: StoreConfig): string {
  return config.kind === "sqlite" ? `SQLite at ${config.path}` : `PostgreSQL at ${config.url.toString()}`;
}
