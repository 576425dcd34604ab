import { EnvReader, type Env } from "./env-reader.js";
import { readShutdownGraceMs } from "./server.js";

/** How the process reports its health and stops: probes and graceful shutdown. */
export interface OperationsConfig {
  /**
   * SHUTDOWN_GRACE_MS: on SIGTERM, how long calls and worker jobs in flight may take to finish.
   * Jobs still running then are handed back to the queue for another worker. Default 10000.
   */
  readonly shutdownGraceMs: number;
  /**
   * SHUTDOWN_READINESS_DELAY_MS: on SIGTERM, how long the API keeps serving with /readyz and the
   * gRPC health service answering "not serving", so a load balancer stops sending it traffic before
   * it stops accepting. Default 0 (stop accepting at once); a few seconds behind a load balancer.
   */
  readonly shutdownReadinessDelayMs: number;
  /** READINESS_TIMEOUT_MS: how long the store and Redis each may take to answer a readiness probe. Default 2000. */
  readonly readinessTimeoutMs: number;
  /** HEALTH_WATCH_INTERVAL_MS: how often a grpc.health.v1 Watch stream re-checks readiness. Default 5000. */
  readonly healthWatchIntervalMs: number;
}

export function loadOperationsConfig(env: Env): OperationsConfig {
  const read = new EnvReader(env);
  return {
    shutdownGraceMs: readShutdownGraceMs(read),
    shutdownReadinessDelayMs: read.integer("SHUTDOWN_READINESS_DELAY_MS", 0, { min: 0, max: 120_000 }),
    readinessTimeoutMs: read.integer("READINESS_TIMEOUT_MS", 2000, { min: 50, max: 60_000 }),
    healthWatchIntervalMs: read.integer("HEALTH_WATCH_INTERVAL_MS", 5000, { min: 100, max: 3_600_000 }),
  };
}
