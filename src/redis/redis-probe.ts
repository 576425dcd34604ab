import { Redis } from "ioredis";
import type { RedisOptions } from "./redis-address.js";

/**
 * Asks a Redis for PONG once, within `timeoutMs`. Resolves undefined when it answered, else the
 * reason it did not (ioredis messages name host and port only, never a password).
 */
export async function probeRedis(options: RedisOptions, timeoutMs: number): Promise<string | undefined> {
  const client = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {
    // Reported through connect()/ping() below; without a listener ioredis logs to stderr.
  });
  try {
    await client.connect();
    const answer = await client.ping();
    return answer === "PONG" ? undefined : `it answered PING with "${answer}"`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    client.disconnect();
  }
}

/** Probes until Redis answers, `timeoutMs` passes or `signal` aborts; the last reason when it never answered. */
export async function waitForRedis(
  options: RedisOptions,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const remaining = deadline - Date.now();
    const reason = await probeRedis(options, Math.max(100, Math.min(remaining, 2000)));
    if (reason === undefined || Date.now() + 100 >= deadline || signal?.aborted === true) return reason;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
