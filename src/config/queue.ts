import { resolve } from "node:path";
import { ConfigError, EnvReader, type Env } from "./env-reader.js";

/**
 * Where the task queue lives. Read by both the API (which enqueues) and the worker (which
 * consumes), so both agree on the Redis and the key prefix.
 */
export interface QueueConfig {
  /**
   * REDIS_URL: redis://[user:password@]host:port[/db] or rediss:// for TLS. Unset: 127.0.0.1:6379,
   * else a redis-server from PATH started with its data in TES_DATA_DIR (see src/redis/).
   */
  readonly redisUrl: URL | undefined;
  /** TES_DATA_DIR: where an embedded redis-server keeps its files (under `redis/`). Default "./data". */
  readonly dataDir: string;
  /**
   * QUEUE_PREFIX: the prefix of every queue key in Redis, so several servers (or tests) can share
   * one Redis. Letters, digits, "-" and "_"; default "tes".
   */
  readonly prefix: string;
}

export function loadQueueConfig(env: Env): QueueConfig {
  const read = new EnvReader(env);
  const redisUrl = read.optionalUrl("REDIS_URL");
  if (redisUrl !== undefined && redisUrl.protocol !== "redis:" && redisUrl.protocol !== "rediss:") {
    throw new ConfigError("REDIS_URL must start with redis:// or rediss://");
  }
  const prefix = read.string("QUEUE_PREFIX", "tes");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    throw new ConfigError(`QUEUE_PREFIX must be 1 to 64 letters, digits, "-" or "_", got "${prefix}"`);
  }
  return { redisUrl, dataDir: resolve(read.string("TES_DATA_DIR", "./data")), prefix };
}
