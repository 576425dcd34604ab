import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { loadBackendDescription, createBackend } from "../worker/backends/registry.js";
import type { ComputeBackend } from "../worker/backends/compute-backend.js";
import { startWorkerPool, type WorkerPool } from "../worker/worker-pool.js";
import type { Env } from "./config/env-reader.js";
import { loadLimitsConfig } from "./config/limits.js";
import { loadServerConfig } from "./config/server.js";
import { loadServiceInfoConfig } from "./config/service-info.js";
import { describeStoreConfig, loadStoreConfig } from "./config/store.js";
import { loadWorkerConfig } from "./config/worker.js";
import { BullMqTaskQueue } from "./queue/bullmq-task-queue.js";
import { resolveRedis } from "./redis/resolve-redis.js";
import { createTesServer, type TesServer } from "./server/tes-server.js";
import { createTaskService } from "./service/task-service.js";
import { openTaskStore } from "./store/open-task-store.js";

/** Which parts this process runs: the API, the worker pool, or both (the embedded default). */
export interface AppRoles {
  readonly api: boolean;
  readonly worker: boolean;
}

export interface RunningApp {
  /** Where the API listens, when this process runs it. */
  readonly address: AddressInfo | undefined;
  /** Stops accepting calls and jobs, lets those in flight finish, then lets go of every connection. */
  close(): Promise<void>;
}

/**
 * The composition root: reads every setting first (so a bad one stops the process before anything
 * starts), then opens the store, finds Redis, and starts the parts this process runs.
 */
export async function startApp(env: Env, roles: AppRoles, logger: Logger): Promise<RunningApp> {
  const worker = loadWorkerConfig(env);
  const settings = {
    store: loadStoreConfig(env),
    worker,
    server: roles.api ? loadServerConfig(env) : undefined,
    limits: roles.api ? loadLimitsConfig(env) : undefined,
    serviceInfo: roles.api ? loadServiceInfoConfig(env) : undefined,
    backend: loadBackendDescription(worker.backend, env),
  };

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error({ err: error }, "error while shutting down"));
    }
  };

  try {
    const store = await openTaskStore(settings.store, { migrate: true });
    closers.push(() => store.close());
    logger.info({ store: describeStoreConfig(settings.store) }, "task store open");

    const redis = await resolveRedis(settings.worker.queue);
    closers.push(() => redis.close());
    logger.info({ redis: redis.address.description, source: redis.source }, "redis found");

    let backend: ComputeBackend | undefined;
    let pool: WorkerPool | undefined;
    if (roles.worker) {
      backend = await createBackend(settings.worker.backend, env);
      const started = backend;
      closers.push(() => started.close());
      pool = await startWorkerPool({
        store,
        connection: redis.address.options,
        backend,
        config: settings.worker,
        logger: logger.child({ part: "worker" }),
      });
      const startedPool = pool;
      closers.push(() => startedPool.close());
    }

    let server: TesServer | undefined;
    if (roles.api && settings.server && settings.limits && settings.serviceInfo) {
      const queue = new BullMqTaskQueue({
        connection: redis.address.options,
        prefix: settings.worker.queue.prefix,
        jobAttempts: settings.worker.jobAttempts,
        jobBackoffMs: settings.worker.jobBackoffMs,
      });
      closers.push(() => queue.close());
      const apiLogger = logger.child({ part: "api" });
      const taskService = createTaskService({
        store,
        queue,
        backend: settings.backend.capabilities,
        admit: settings.backend.admit,
        serviceInfo: settings.serviceInfo,
        limits: settings.limits,
        logger: apiLogger,
      });
      server = createTesServer({
        config: settings.server,
        taskService,
        onInternalError: (error, procedure) =>
          apiLogger.error({ err: error, procedure }, "internal error, answered as a bare 'internal'"),
      });
      const listening = server;
      const address = await server.listen();
      closers.push(() => listening.close());
      logger.info({ address: address.address, port: address.port, tls: settings.server.tls !== undefined }, "TES API listening");
    }

    return { address: server?.address(), close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
