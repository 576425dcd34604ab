import type { QueueConfig } from "../config/queue.js";
import { findOnPath, startEmbeddedRedis } from "./embedded-redis-server.js";
import { redisAddressAt, redisAddressFromUrl, type RedisAddress } from "./redis-address.js";
import { probeRedis, waitForRedis } from "./redis-probe.js";

/** The Redis this process uses, and how to let go of it (stops a redis-server it started). */
export interface ResolvedRedis {
  readonly address: RedisAddress;
  /** "url" (REDIS_URL), "default" (127.0.0.1:6379) or "embedded" (a redis-server from PATH). */
  readonly source: "url" | "default" | "embedded";
  close(): Promise<void>;
}

/** Redis cannot be had; the message is one sentence saying how to get it. */
export class RedisUnavailableError extends Error {
  override readonly name = "RedisUnavailableError";
}

export interface ResolveRedisOptions {
  /** The PATH searched for redis-server; the process's own by default. */
  pathList?: string | undefined;
  /** Where Redis is looked for when REDIS_URL is unset; 127.0.0.1:6379 by default. */
  defaultHost?: string;
  defaultPort?: number;
  /** How long a REDIS_URL may take to answer at start-up. Default 10000. */
  urlTimeoutMs?: number;
  /** How long the default address may take to answer. Default 500. */
  defaultTimeoutMs?: number;
  /** How long an embedded redis-server may take to start. Default 10000. */
  startTimeoutMs?: number;
}

/**
 * The embedded default of shared/DESIGN.md: REDIS_URL when set (it must answer), else
 * 127.0.0.1:6379 when something answers there, else a redis-server found on PATH and started with
 * its data in TES_DATA_DIR, else a RedisUnavailableError saying how to get Redis.
 */
export async function resolveRedis(config: QueueConfig, options: ResolveRedisOptions = {}): Promise<ResolvedRedis> {
  if (config.redisUrl !== undefined) {
    const address = redisAddressFromUrl(config.redisUrl);
    const timeoutMs = options.urlTimeoutMs ?? 10_000;
    const reason = await waitForRedis(address.options, timeoutMs);
    if (reason !== undefined) {
      throw new RedisUnavailableError(
        `Redis at ${address.description} (REDIS_URL) did not answer within ${timeoutMs} ms (${reason}): start it, or fix REDIS_URL.`,
      );
    }
    return { address, source: "url", close: async () => {} };
  }

  const fallback = redisAddressAt(options.defaultHost ?? "127.0.0.1", options.defaultPort ?? 6379);
  if ((await probeRedis(fallback.options, options.defaultTimeoutMs ?? 500)) === undefined) {
    return { address: fallback, source: "default", close: async () => {} };
  }

  const executable = await findOnPath("redis-server", options.pathList ?? process.env.PATH);
  if (executable === undefined) {
    throw new RedisUnavailableError(
      `No Redis found: REDIS_URL is unset, nothing answers at ${fallback.description.replace(/\/0$/, "")} and there is no redis-server on PATH; install Redis (for example \`apt-get install redis-server\`) or set REDIS_URL to a running Redis.`,
    );
  }
  let embedded;
  try {
    embedded = await startEmbeddedRedis({
      executable,
      dataDir: config.dataDir,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
    });
  } catch (error) {
    throw new RedisUnavailableError(error instanceof Error ? error.message : String(error));
  }
  return { address: embedded.address, source: "embedded", close: () => embedded.close() };
}
