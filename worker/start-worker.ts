import { pino, type Logger } from "pino";
import type { Env } from "../src/config/env-reader.js";
import { loadStoreConfig } from "../src/config/store.js";
import { loadWorkerConfig } from "../src/config/worker.js";
import { resolveRedis, type ResolvedRedis } from "../src/redis/resolve-redis.js";
import { openTaskStore } from "../src/store/open-task-store.js";
import type { TaskStore } from "../src/store/task-store.js";
import type { ComputeBackend } from "./backends/compute-backend.js";
import { createBackend } from "./backends/registry.js";
import { startWorkerPool, type WorkerPool } from "./worker-pool.js";

export interface RunningWorker {
  readonly pool: WorkerPool;
  /** Stops the pool, then closes the backend, the store and Redis (an embedded redis-server stops). */
  close(): Promise<void>;
}

/**
 * A whole worker process from the environment (`npm run worker`): the store from DATABASE_URL or
 * TES_DATA_DIR, Redis as the embedded default says, the backend TES_BACKEND names, and the pool.
 * `backend` replaces the configured one (the fault tests' scripted backend).
 */
export async function startWorkerFromEnv(
  env: Env,
  options: { logger?: Logger; backend?: ComputeBackend } = {},
): Promise<RunningWorker> {
  const logger = options.logger ?? pino({ level: "silent" });
  const config = loadWorkerConfig(env);
  const storeConfig = loadStoreConfig(env);
  const opened: Array<{ close(): Promise<void> }> = [];
  const closeAll = async (): Promise<void> => {
    for (const resource of opened.reverse()) {
      await resource.close().catch((error: unknown) => logger.warn({ err: error }, "closing the worker"));
    }
  };
  try {
    const redis: ResolvedRedis = await resolveRedis(config.queue);
    opened.push(redis);
    const store: TaskStore = await openTaskStore(storeConfig);
    opened.push(store);
    const backend = options.backend ?? (await createBackend(config.backend, env));
    opened.push(backend);
    const pool = await startWorkerPool({ store, connection: redis.address.options, backend, config, logger });
    opened.push(pool);
    let closing: Promise<void> | undefined;
    return { pool, close: () => (closing ??= closeAll()) };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
