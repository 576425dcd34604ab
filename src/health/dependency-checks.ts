import { Redis } from "ioredis";
import type { RedisOptions } from "../redis/redis-address.js";
import { ALL, type TaskStore } from "../store/task-store.js";
import type { DependencyCheck } from "./readiness.js";

/** The store answers a read (an id no task has: one indexed lookup, nothing returned). */
export function storeCheck(store: TaskStore): DependencyCheck {
  return {
    name: "store",
    async check() {
      await store.get("readiness-probe", ALL);
    },
  };
}

/**
 * Redis answers PING on a connection kept for the probes, which fails fast instead of queueing
 * commands while Redis is away. `close` lets go of it.
 */
export function redisCheck(options: RedisOptions): DependencyCheck & { close(): void } {
  const client = new Redis({
    ...options,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    // Reconnect in the background between probes; a probe never waits for it.
    retryStrategy: () => 500,
  });
  client.on("error", () => {
    // Reported by the failing ping; without a listener ioredis writes to stderr.
  });
  return {
    name: "redis",
    async check() {
      if (client.status === "wait") await client.connect();
      const answer = await client.ping();
      if (answer !== "PONG") throw new Error(`unexpected PING answer`);
    },
    close() {
      client.disconnect();
    },
  };
}
