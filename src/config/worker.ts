import { ConfigError, EnvReader, type Env } from "./env-reader.js";
import { loadQueueConfig, type QueueConfig } from "./queue.js";

/** The compute backends TES_BACKEND may name; worker/backends/registry.ts maps each to its plugin. */
export const BACKEND_NAMES = ["local", "azure-batch"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/**
 * Settings of the worker pool: how much it does at once, how often it polls the backend and sweeps
 * the store, how long a job may be held by a worker that may have died, and how often a preempted
 * task is retried. Read once at start-up.
 */
export interface WorkerConfig {
  readonly queue: QueueConfig;
  /** TES_BACKEND: the compute backend, "local" (default) or "azure-batch". */
  readonly backend: BackendName;
  /** WORKER_CONCURRENCY: submit and cancel jobs one worker process handles at once (a submit job may carry up to 100 tasks). Default 16. */
  readonly concurrency: number;
  /** WORKER_POLL_INTERVAL_MS: how often the backend is asked where running attempts stand. Default 1000. */
  readonly pollIntervalMs: number;
  /** WORKER_POLL_BATCH_SIZE: handles per backend poll call. Default 100. */
  readonly pollBatchSize: number;
  /** WORKER_POLL_MAX_TASKS: attempts followed per poll cycle, least recently written first. Default 10000. */
  readonly pollMaxTasks: number;
  /** WORKER_SUBMIT_BATCH_SIZE: attempts per backend submit call (submit jobs are coalesced). Default 100. */
  readonly submitBatchSize: number;
  /** WORKER_SUBMIT_BATCH_WAIT_MS: how long a submit waits for others to share its backend call. Default 10. */
  readonly submitBatchWaitMs: number;
  /** WORKER_SWEEP_INTERVAL_MS: how often the store is swept for tasks whose job is missing. Default 30000. */
  readonly sweepIntervalMs: number;
  /**
   * WORKER_STALE_AFTER_MS: a QUEUED task without an attempt, or a CANCELING one, unchanged this long
   * is re-enqueued by the sweep (a lost job, a blocked submission to retry). Default 60000.
   */
  readonly staleAfterMs: number;
  /** WORKER_SWEEP_BATCH_SIZE: tasks re-enqueued per state per sweep. Default 1000. */
  readonly sweepBatchSize: number;
  /** WORKER_PREEMPTION_RETRIES: new attempts after a preemption before the task ends PREEMPTED. Default 2. */
  readonly preemptionRetries: number;
  /**
   * WORKER_JOB_LOCK_MS: how long a job stays with a worker that stopped renewing its lock (a killed
   * process) before another worker takes it over. Default 30000.
   */
  readonly jobLockMs: number;
  /** WORKER_JOB_ATTEMPTS: tries of a job that fails on a transient error (store or backend down). Default 5. */
  readonly jobAttempts: number;
  /** WORKER_JOB_BACKOFF_MS: the first delay between those tries, doubled each time. Default 1000. */
  readonly jobBackoffMs: number;
}

export function loadWorkerConfig(env: Env): WorkerConfig {
  const read = new EnvReader(env);
  const config: WorkerConfig = {
    queue: loadQueueConfig(env),
    backend: read.oneOf("TES_BACKEND", BACKEND_NAMES, "local"),
    concurrency: read.integer("WORKER_CONCURRENCY", 16, { min: 1, max: 1000 }),
    pollIntervalMs: read.integer("WORKER_POLL_INTERVAL_MS", 1000, { min: 50, max: 3_600_000 }),
    pollBatchSize: read.integer("WORKER_POLL_BATCH_SIZE", 100, { min: 1, max: 10_000 }),
    pollMaxTasks: read.integer("WORKER_POLL_MAX_TASKS", 10_000, { min: 1, max: 1_000_000 }),
    submitBatchSize: read.integer("WORKER_SUBMIT_BATCH_SIZE", 100, { min: 1, max: 1000 }),
    submitBatchWaitMs: read.integer("WORKER_SUBMIT_BATCH_WAIT_MS", 10, { min: 0, max: 10_000 }),
    sweepIntervalMs: read.integer("WORKER_SWEEP_INTERVAL_MS", 30_000, { min: 100, max: 86_400_000 }),
    staleAfterMs: read.integer("WORKER_STALE_AFTER_MS", 60_000, { min: 0, max: 86_400_000 }),
    sweepBatchSize: read.integer("WORKER_SWEEP_BATCH_SIZE", 1000, { min: 1, max: 100_000 }),
    preemptionRetries: read.integer("WORKER_PREEMPTION_RETRIES", 2, { min: 0, max: 100 }),
    jobLockMs: read.integer("WORKER_JOB_LOCK_MS", 30_000, { min: 1000, max: 3_600_000 }),
    jobAttempts: read.integer("WORKER_JOB_ATTEMPTS", 5, { min: 1, max: 100 }),
    jobBackoffMs: read.integer("WORKER_JOB_BACKOFF_MS", 1000, { min: 0, max: 3_600_000 }),
  };
  if (config.pollBatchSize > config.pollMaxTasks) {
    throw new ConfigError(
      `WORKER_POLL_BATCH_SIZE (${config.pollBatchSize}) must not exceed WORKER_POLL_MAX_TASKS (${config.pollMaxTasks})`,
    );
  }
  return config;
}
