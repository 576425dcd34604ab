import { Job, Queue, Worker } from "bullmq";
import { pino, type Logger } from "pino";
import type { WorkerConfig } from "../src/config/worker.js";
import { BullMqTaskQueue } from "../src/queue/bullmq-task-queue.js";
import { tasksOfJob, type SubmitJobData, type TaskJobData } from "../src/queue/job-data.js";
import { CANCEL_QUEUE, PERIODIC_QUEUE, SUBMIT_QUEUE } from "../src/queue/queue-names.js";
import type { RedisOptions } from "../src/redis/redis-address.js";
import type { TaskStore } from "../src/store/task-store.js";
import { instruments } from "../src/telemetry/instruments.js";
import { tracedJob } from "../src/telemetry/job-trace-context.js";
import type { ComputeBackend } from "./backends/compute-backend.js";
import { runCancelJob } from "./cancel-job.js";
import { runPollCycle } from "./poll-cycle.js";
import { runRecoverySweep } from "./recovery-sweep.js";
import { SubmitBatcher } from "./submit-batcher.js";
import { runSubmitJob } from "./submit-job.js";
import type { WorkerContext } from "./worker-context.js";

export interface WorkerPoolDeps {
  /** The task store, already migrated; the pool does not close it. */
  store: TaskStore;
  /** Where Redis is (src/redis/resolve-redis.ts); the pool opens and closes its own connections. */
  connection: RedisOptions;
  /** The compute backend (worker/backends/registry.ts); the pool does not close it. */
  backend: ComputeBackend;
  config: WorkerConfig;
  /** Default: silent. */
  logger?: Logger;
}

export interface WorkerPool {
  /**
   * Stops taking jobs, waits for the running ones to finish, and closes the pool's connections.
   * With `graceMs`, jobs still running after that long are handed back to their queue (another
   * worker takes them at once; jobs are idempotent), and the pool closes without waiting for them.
   */
  close(graceMs?: number): Promise<void>;
}

const POLL_SCHEDULER = "poll";
const SWEEP_SCHEDULER = "sweep";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The ids of the tasks a job carries, for the logs. */
function jobTaskIds(job: Job | undefined): string[] {
  return tasksOfJob(job?.data).map((task) => task.taskId);
}

/**
 * Runs a job's work for each task it carries, each in a consumer span continuing that task's trace,
 * all at once. Any task's failure fails the job, which BullMQ retries whole: the tasks that went
 * through find nothing left to do. A job that carries no task (not one of ours) is dropped, said once.
 */
async function forEachTask(job: Job, logger: Logger, run: (taskId: string) => Promise<void>): Promise<void> {
  const tasks = tasksOfJob(job.data);
  if (tasks.length === 0) logger.warn({ queue: job.queueName, job: job.name, jobId: job.id }, "dropped a job that carries no task id");
  const queueName = job.queueName;
  const outcomes = await Promise.allSettled(tasks.map((task) => tracedJob(queueName, task.taskId, task.traceContext, () => run(task.taskId))));
  const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as unknown] : []));
  if (failures.length === 1 && tasks.length === 1) throw failures[0];
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} of the job's ${tasks.length} tasks failed: ${String(failures[0])}`);
}

/**
 * Starts one worker process's share of the pool: submit and cancel jobs, WORKER_CONCURRENCY at
 * a time, and the periodic jobs (bulk polls, recovery sweeps) that BullMQ job schedulers create.
 * Any number of these may run against the same Redis and store, on any number of machines.
 */
export async function startWorkerPool(deps: WorkerPoolDeps): Promise<WorkerPool> {
  const { config, store, backend } = deps;
  const logger = deps.logger ?? pino({ level: "silent" });
  const prefix = config.queue.prefix;
  const queue = new BullMqTaskQueue({
    connection: deps.connection,
    prefix,
    jobAttempts: config.jobAttempts,
    jobBackoffMs: config.jobBackoffMs,
  });
  const context: WorkerContext = {
    store,
    backend,
    queue,
    config,
    logger,
    submitter: new SubmitBatcher(backend, config.submitBatchSize, config.submitBatchWaitMs),
  };

  // Workers block on Redis; BullMQ needs them to retry forever rather than fail a command.
  const workerConnection = { ...deps.connection, maxRetriesPerRequest: null };
  const workerOptions = {
    connection: workerConnection,
    prefix,
    lockDuration: config.jobLockMs,
    stalledInterval: config.jobLockMs,
    maxStalledCount: 2,
  };
  // The jobs running now, with their lock tokens: what a shutdown past its deadline hands back.
  const active = new Set<{ job: Job; token: string | undefined }>();
  const tracked =
    <T>(run: (job: Job<T>) => Promise<void>) =>
    async (job: Job<T>, token?: string): Promise<void> => {
      const entry = { job: job as Job, token };
      active.add(entry);
      try {
        await run(job);
        instruments().jobs.add(1, { queue: job.queueName, outcome: "completed" });
      } finally {
        active.delete(entry);
      }
    };
  const submitWorker = new Worker<SubmitJobData>(
    SUBMIT_QUEUE,
    tracked<SubmitJobData>((job) => forEachTask(job, logger, (taskId) => runSubmitJob(context, taskId))),
    { ...workerOptions, concurrency: config.concurrency },
  );
  const cancelWorker = new Worker<TaskJobData>(
    CANCEL_QUEUE,
    tracked<TaskJobData>((job) => forEachTask(job, logger, (taskId) => runCancelJob(context, taskId))),
    { ...workerOptions, concurrency: config.concurrency },
  );
  const periodicWorker = new Worker(
    PERIODIC_QUEUE,
    tracked((job: Job) =>
      tracedJob(PERIODIC_QUEUE, undefined, undefined, async () => {
        if (job.name === POLL_SCHEDULER) await runPollCycle(context);
        else if (job.name === SWEEP_SCHEDULER) await runRecoverySweep(context);
      }),
    ),
    { ...workerOptions, concurrency: 1 },
  );
  for (const [name, worker] of [
    ["submit", submitWorker],
    ["cancel", cancelWorker],
    ["periodic", periodicWorker],
  ] as const) {
    worker.on("error", (error) => logger.warn({ err: error, queue: name }, "queue worker error"));
    worker.on("failed", (job, error) => {
      const retried = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1);
      instruments().jobs.add(1, { queue: name, outcome: retried ? "retried" : "failed" });
      logger.warn({ err: error, queue: name, job: job?.name, taskIds: jobTaskIds(job), attempt: job?.attemptsMade }, "job failed");
    });
  }

  const periodic = new Queue(PERIODIC_QUEUE, { connection: { ...deps.connection, maxRetriesPerRequest: 1 }, prefix });
  periodic.on("error", (error) => logger.warn({ err: error }, "periodic queue error"));
  const schedules = [
    { id: POLL_SCHEDULER, every: config.pollIntervalMs },
    { id: SWEEP_SCHEDULER, every: config.sweepIntervalMs },
  ];
  // Redis may lose everything, schedulers included: each process puts them back when missing.
  const ensureSchedulers = async (): Promise<void> => {
    for (const { id, every } of schedules) {
      const existing = await periodic.getJobScheduler(id);
      if (existing?.every === every) continue;
      await periodic.upsertJobScheduler(id, { every }, { name: id, opts: { removeOnComplete: true, removeOnFail: true } });
    }
  };
  await ensureSchedulers();
  const watchdog = setInterval(
    () => void ensureSchedulers().catch((error: unknown) => logger.warn({ err: error }, "cannot check the job schedulers")),
    Math.min(config.sweepIntervalMs, 10_000),
  );
  watchdog.unref();

  await Promise.all([submitWorker.waitUntilReady(), cancelWorker.waitUntilReady(), periodicWorker.waitUntilReady()]);
  logger.info({ backend: backend.capabilities.name, concurrency: config.concurrency, prefix }, "worker pool started");

  const workers = [submitWorker, cancelWorker, periodicWorker];
  let closing: Promise<void> | undefined;
  return {
    close: (graceMs?: number) => {
      closing ??= (async () => {
        clearInterval(watchdog);
        if (graceMs !== undefined) {
          // Take no new job, give the running ones until the deadline, hand back the rest.
          await Promise.all(workers.map((worker) => worker.pause(true)));
          const deadline = Date.now() + graceMs;
          while (active.size > 0 && Date.now() < deadline) await delay(Math.min(50, deadline - Date.now()));
          const unfinished = [...active];
          // Stop fetching first (a fetch in flight would take a handed-back job again), then hand
          // the jobs back through connections of our own: the workers' are gone.
          await Promise.all(workers.map((worker) => worker.close(true)));
          if (unfinished.length > 0) {
            const queues = new Map<string, Queue>();
            for (const { job, token } of unfinished) {
              let queue = queues.get(job.queueName);
              if (queue === undefined) {
                queue = new Queue(job.queueName, { connection: { ...deps.connection, maxRetriesPerRequest: 1 }, prefix });
                queue.on("error", () => {});
                queues.set(job.queueName, queue);
              }
              const handedBack = await Job.fromId(queue, job.id ?? "")
                .then((current) => current?.moveToWait(token))
                .then(
                  () => true,
                  (error: unknown) => {
                    logger.warn({ err: error, job: job.name, taskIds: jobTaskIds(job) }, "cannot hand a job back to its queue; it returns when its lock expires");
                    return false;
                  },
                );
              if (handedBack) instruments().jobs.add(1, { queue: job.queueName, outcome: "handed-back" });
            }
            await Promise.all([...queues.values()].map((queue) => queue.close()));
            logger.warn(
              { jobs: unfinished.map(({ job }) => ({ job: job.name, taskIds: jobTaskIds(job) })), graceMs },
              "jobs still running at the shutdown deadline were handed back to the queue",
            );
          }
        } else {
          await Promise.all(workers.map((worker) => worker.close()));
        }
        await Promise.all([periodic.close(), queue.close()]);
      })();
      return closing;
    },
  };
}
