import type { RedisOptions as IoRedisOptions } from "ioredis";

/**
 * ioredis connection options, as both ioredis and BullMQ accept them (their retryStrategy types
 * differ; connections here keep each library's own).
 */
export type RedisOptions = Omit<IoRedisOptions, "retryStrategy">;

/** Where a Redis answers, as ioredis connection options, and how to name it in logs and errors. */
export interface RedisAddress {
  readonly options: RedisOptions;
  /** host:port/db, never the user name or password. */
  readonly description: string;
}

/** REDIS_URL to ioredis options: redis://[user:password@]host[:port][/db]; rediss:// adds TLS. */
export function redisAddressFromUrl(url: URL): RedisAddress {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = url.port === "" ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, "");
  if (dbText !== "" && !/^\d+$/.test(dbText)) {
    throw new Error("REDIS_URL must end with a database number (/0, /1, ...) or nothing");
  }
  const db = dbText === "" ? 0 : Number(dbText);
  const options: RedisOptions = { host, port, db };
  if (url.username !== "") options.username = decodeURIComponent(url.username);
  if (url.password !== "") options.password = decodeURIComponent(url.password);
  if (url.protocol === "rediss:") options.tls = { servername: host };
  return { options, description: `${url.protocol}//${url.host}/${db}` };
}

export function redisAddressAt(host: string, port: number): RedisAddress {
  return { options: { host, port }, description: `redis://${host}:${port}/0` };
}
