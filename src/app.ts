import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { loadBackendDescription, createBackend } from "../worker/backends/registry.js";
import type { ComputeBackend } from "../worker/backends/compute-backend.js";
import { startWorkerPool, type WorkerPool } from "../worker/worker-pool.js";
import type { Env } from "./config/env-reader.js";
import { loadLimitsConfig } from "./config/limits.js";
import { loadOperationsConfig } from "./config/operations.js";
import { loadServerConfig } from "./config/server.js";
import { loadServiceInfoConfig } from "./config/service-info.js";
import { describeStoreConfig, loadStoreConfig } from "./config/store.js";
import { loadWorkerConfig } from "./config/worker.js";
import { createAuthentication } from "./auth/authentication.js";
import { describeAuthConfig, loadAuthConfig } from "./config/auth.js";
import { TaskService } from "./gen/ga4gh/tes/v1/tes_pb.js";
import { Health } from "./gen/grpc/health/v1/health_pb.js";
import { redisCheck, storeCheck } from "./health/dependency-checks.js";
import { createGrpcHealthService } from "./health/grpc-health-service.js";
import { createHttpProbes } from "./health/http-probes.js";
import { Readiness } from "./health/readiness.js";
import { requestLog } from "./interceptors/request-log.js";
import { tracing } from "./interceptors/tracing.js";
import { loadTelemetryConfig } from "./config/telemetry.js";
import { observeQueueDepth } from "./telemetry/queue-gauges.js";
import { observeTasksByState } from "./telemetry/task-gauges.js";
import { startTelemetry, type TelemetryOptions } from "./telemetry/telemetry.js";
import { instrumentBackend } from "../worker/backends/instrumented-backend.js";
import { BullMqTaskQueue } from "./queue/bullmq-task-queue.js";
import { resolveRedis } from "./redis/resolve-redis.js";
import { bindService } from "./server/service-binding.js";
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
  /**
   * Graceful shutdown: readiness turns 503 at once; the API stops accepting and the worker pool
   * stops taking jobs; calls and jobs in flight get SHUTDOWN_GRACE_MS to finish (jobs still
   * running then go back to the queue); then every connection is let go.
   */
  close(): Promise<void>;
}

export interface AppOptions {
  /** More span processors and metric readers (tests: in-memory exporters). */
  readonly telemetry?: TelemetryOptions;
}

/**
 * The composition root: reads every setting first (so a bad one stops the process before anything
 * starts), then opens the store, finds Redis, and starts the parts this process runs.
 */
export async function startApp(env: Env, roles: AppRoles, logger: Logger, options: AppOptions = {}): Promise<RunningApp> {
  const worker = loadWorkerConfig(env);
  const settings = {
    store: loadStoreConfig(env),
    worker,
    server: roles.api ? loadServerConfig(env) : undefined,
    limits: roles.api ? loadLimitsConfig(env) : undefined,
    serviceInfo: roles.api ? loadServiceInfoConfig(env) : undefined,
    auth: roles.api ? loadAuthConfig(env) : undefined,
    backend: loadBackendDescription(worker.backend, env),
    operations: loadOperationsConfig(env),
    telemetry: loadTelemetryConfig(env),
  };

  let readiness: Readiness | undefined;
  // Drained together (the API's calls and the pool's jobs share one deadline), then the closers.
  const drainers: Array<() => Promise<void>> = [];
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    if (readiness !== undefined) {
      readiness.startDraining();
      const delayMs = settings.operations.shutdownReadinessDelayMs;
      if (delayMs > 0) {
        logger.info({ delayMs }, "not ready: still serving while the load balancer notices");
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
    await Promise.all(
      drainers.splice(0).map((drain) =>
        drain().catch((error: unknown) => logger.error({ err: error }, "error while draining")),
      ),
    );
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error({ err: error }, "error while shutting down"));
    }
  };

  try {
    const telemetry = startTelemetry(settings.telemetry, options.telemetry);
    closers.push(() => telemetry.shutdown());
    logger.info({ exporters: telemetry.exporters }, "telemetry on");

    const store = await openTaskStore(settings.store, { migrate: true });
    closers.push(() => store.close());
    logger.info({ store: describeStoreConfig(settings.store) }, "task store open");

    const redis = await resolveRedis(settings.worker.queue);
    closers.push(() => redis.close());
    logger.info({ redis: redis.address.description, source: redis.source }, "redis found");

    let backend: ComputeBackend | undefined;
    let pool: WorkerPool | undefined;
    if (roles.worker) {
      backend = instrumentBackend(await createBackend(settings.worker.backend, env));
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
      drainers.push(() => startedPool.close(settings.operations.shutdownGraceMs));
    }

    let server: TesServer | undefined;
    if (roles.api && settings.server && settings.limits && settings.serviceInfo && settings.auth) {
      const queue = new BullMqTaskQueue({
        connection: redis.address.options,
        prefix: settings.worker.queue.prefix,
        jobAttempts: settings.worker.jobAttempts,
        jobBackoffMs: settings.worker.jobBackoffMs,
      });
      closers.push(() => queue.close());
      const stopObserving = observeQueueDepth(queue);
      closers.push(async () => stopObserving());
      const apiLogger = logger.child({ part: "api" });
      // Closed before the store (closers run in reverse), so no collection reads a closed store.
      const stopCounting = observeTasksByState(store, apiLogger.child({ part: "telemetry" }));
      closers.push(async () => stopCounting());
      const taskService = createTaskService({
        store,
        queue,
        backend: settings.backend.capabilities,
        admit: settings.backend.admit,
        serviceInfo: settings.serviceInfo,
        limits: settings.limits,
        logger: apiLogger,
      });
      const authentication = createAuthentication(settings.auth, { logger: apiLogger.child({ part: "auth" }) });
      // Reads the issuer's discovery document and keys now: a wrong issuer stops start-up.
      await authentication.load();
      logger.info({ auth: describeAuthConfig(settings.auth) }, "sign-in");
      const redisProbe = redisCheck(redis.address.options);
      closers.push(async () => redisProbe.close());
      const ready = new Readiness({
        checks: [storeCheck(store), redisProbe],
        timeoutMs: settings.operations.readinessTimeoutMs,
        onFailure: (dependency, error) => apiLogger.warn({ err: error, dependency }, "readiness check failed"),
      });
      readiness = ready;
      server = createTesServer({
        config: settings.server,
        taskService,
        extraServices: [
          bindService(
            Health,
            createGrpcHealthService({
              readiness: ready,
              services: [TaskService.typeName, Health.typeName],
              watchIntervalMs: settings.operations.healthWatchIntervalMs,
            }),
          ),
        ],
        plainHttpRoutes: new Map([
          ...createHttpProbes(ready),
          ...(telemetry.metricsHandler === undefined ? [] : [["/metrics", telemetry.metricsHandler] as const]),
        ]) as ReturnType<typeof createHttpProbes>,
        // Outermost first: the request log also records the calls that authentication refuses.
        interceptors: [tracing(), requestLog(apiLogger), ...authentication.interceptors],
        onInternalError: (error, procedure) =>
          apiLogger.error({ err: error, procedure }, "internal error, answered as a bare 'internal'"),
      });
      const listening = server;
      const address = await server.listen();
      drainers.push(() => listening.close());
      logger.info({ address: address.address, port: address.port, tls: settings.server.tls !== undefined }, "TES API listening");
    }

    return { address: server?.address(), close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
