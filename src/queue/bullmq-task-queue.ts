import { Queue, type JobsOptions } from "bullmq";
import type { RedisOptions } from "../redis/redis-address.js";
import { tracedEnqueue } from "../telemetry/job-trace-context.js";
import { CoalescedAdds } from "./coalesced-adds.js";
import type { SubmitBatchJobData, SubmitJobData, TaskJobData } from "./job-data.js";
import { CANCEL_QUEUE, SUBMIT_QUEUE } from "./queue-names.js";
import type { TaskQueue } from "./task-queue.js";

export interface BullMqTaskQueueOptions {
  /** Where Redis is (src/redis/resolve-redis.ts resolves it). */
  connection: RedisOptions;
  /** The key prefix shared with the worker pool (QUEUE_PREFIX). */
  prefix: string;
  /** Tries of a job that fails on a transient error. Default 5. */
  jobAttempts?: number;
  /** The first delay between those tries, doubled each time. Default 1000. */
  jobBackoffMs?: number;
  /** How long an enqueue may wait for Redis before it fails. Default 5000. */
  enqueueTimeoutMs?: number;
}

function jobData(taskId: string, traceContext: Record<string, string> | undefined): TaskJobData {
  return traceContext === undefined ? { taskId } : { taskId, traceContext };
}

function carrierOf(traceparent: string | undefined): Record<string, string> | undefined {
  return traceparent === undefined || traceparent === "" ? undefined : { traceparent };
}

/**
 * Tasks per CreateTask submit job: what one Azure Batch AddCollection takes. Cancellations coalesce
 * up to CANCEL_ADD_BATCH_MAX jobs per addBulk.
 */
export const SUBMIT_JOB_TASKS_MAX = 100;
export const CANCEL_ADD_BATCH_MAX = 256;
/**
 * How long an enqueue waits for others to share its Redis call. Neither CreateTask nor CancelTask
 * waits for its enqueue, so clients never see this; a worker sees the task this much later at
 * most. Each BullMQ add costs the API about 220 µs of CPU (msgpack, the Lua script call, its
 * reply), shared by the tasks it carries: under load one event-loop turn held about 20 CreateTasks,
 * 20 ms hold 100 at 5000 a second, and the submit job then fills one Azure Batch AddCollection.
 */
export const ENQUEUE_WINDOW_MS = 20;

/** Redis did not take a job in time; the task is still safe in the store. */
export class QueueUnavailableError extends Error {
  override readonly name = "QueueUnavailableError";
}

/**
 * The TaskQueue on BullMQ. Single enqueues within ENQUEUE_WINDOW_MS are coalesced: submissions into
 * one job for them all (SubmitBatchJobData), cancellations into one addBulk of a job each. The
 * recovery sweep's jobs (enqueue...Many) and cancel jobs carry one task under the task id, so a task
 * that already waits is not doubled. Finished jobs are removed at once, so the same task can be
 * enqueued again later; the worker makes every job idempotent by re-reading the task from the store.
 */
export class BullMqTaskQueue implements TaskQueue {
  private readonly submit: Queue<SubmitJobData>;
  private readonly cancel: Queue<TaskJobData>;
  private readonly jobOptions: JobsOptions;
  private readonly enqueueTimeoutMs: number;
  private readonly submitAdds: CoalescedAdds<TaskJobData>;
  private readonly cancelAdds: CoalescedAdds<TaskJobData>;

  constructor(options: BullMqTaskQueueOptions) {
    const connection: RedisOptions = { ...options.connection, maxRetriesPerRequest: 1 };
    this.enqueueTimeoutMs = options.enqueueTimeoutMs ?? 5000;
    this.submit = new Queue<SubmitJobData>(SUBMIT_QUEUE, { connection, prefix: options.prefix });
    this.cancel = new Queue<TaskJobData>(CANCEL_QUEUE, { connection, prefix: options.prefix });
    for (const queue of [this.submit, this.cancel]) {
      queue.on("error", () => {
        // Connection errors surface as rejected enqueue calls; without a listener they would crash.
      });
    }
    this.jobOptions = {
      attempts: options.jobAttempts ?? 5,
      backoff: { type: "exponential", delay: options.jobBackoffMs ?? 1000 },
      removeOnComplete: true,
      removeOnFail: true,
    };
    this.submitAdds = new CoalescedAdds<TaskJobData>(
      (tasks) => this.withinTimeout(this.submit.add("submit-batch", { tasks } satisfies SubmitBatchJobData, this.jobOptions)),
      SUBMIT_JOB_TASKS_MAX,
      ENQUEUE_WINDOW_MS,
    );
    this.cancelAdds = new CoalescedAdds<TaskJobData>(
      (jobs) => this.withinTimeout(this.cancel.addBulk(jobs.map((data) => ({ name: "cancel", data, opts: { ...this.jobOptions, jobId: data.taskId } })))),
      CANCEL_ADD_BATCH_MAX,
      ENQUEUE_WINDOW_MS,
    );
  }

  async enqueueSubmit(taskId: string): Promise<void> {
    await tracedEnqueue(SUBMIT_QUEUE, taskId, (traceContext) => this.submitAdds.add(jobData(taskId, traceContext)));
  }

  async enqueueCancel(taskId: string): Promise<void> {
    await tracedEnqueue(CANCEL_QUEUE, taskId, (traceContext) => this.cancelAdds.add(jobData(taskId, traceContext)));
  }

  /**
   * Enqueues many submissions in one round trip (the recovery sweep). `traceparents[i]` (the
   * task's stored one, "" for none) makes task i's job continue the task's own trace.
   */
  async enqueueSubmitMany(taskIds: readonly string[], traceparents: readonly string[] = []): Promise<void> {
    if (taskIds.length === 0) return;
    await this.withinTimeout(
      this.submit.addBulk(
        taskIds.map((taskId, i) => ({ name: "submit", data: jobData(taskId, carrierOf(traceparents[i])), opts: { ...this.jobOptions, jobId: taskId } })),
      ),
    );
  }

  /** Enqueues many cancellations in one round trip (the recovery sweep); `traceparents` as above. */
  async enqueueCancelMany(taskIds: readonly string[], traceparents: readonly string[] = []): Promise<void> {
    if (taskIds.length === 0) return;
    await this.withinTimeout(
      this.cancel.addBulk(
        taskIds.map((taskId, i) => ({ name: "cancel", data: jobData(taskId, carrierOf(traceparents[i])), opts: { ...this.jobOptions, jobId: taskId } })),
      ),
    );
  }

  /**
   * BullMQ waits for Redis as long as it takes; a caller (CreateTask) must not. A job that Redis
   * takes after the timeout is harmless: jobs are idempotent.
   */
  private async withinTimeout<T>(adding: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new QueueUnavailableError(`the task queue (Redis) did not take the job within ${this.enqueueTimeoutMs} ms`)),
        this.enqueueTimeoutMs,
      );
    });
    adding.catch(() => {}); // a late failure after the timeout is already reported
    try {
      return await Promise.race([adding, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Jobs waiting (and delayed for a retry) per queue, and the age of the oldest waiting one: for the queue metrics. */
  async depth(): Promise<Array<{ queue: string; waiting: number; active: number; oldestWaitingAgeMs: number | undefined }>> {
    return Promise.all(
      [this.submit, this.cancel].map(async (queue) => {
        const counts = await queue.getJobCounts("waiting", "delayed", "active", "prioritized");
        const [oldest] = await queue.getWaiting(-1, -1);
        return {
          queue: queue.name,
          waiting: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          oldestWaitingAgeMs: oldest === undefined ? undefined : Math.max(0, Date.now() - oldest.timestamp),
        };
      }),
    );
  }

  async close(): Promise<void> {
    // Enqueues already accepted go out first, so their callers hear how they went.
    await Promise.all([this.submitAdds.drain(), this.cancelAdds.drain()]);
    await Promise.all([this.submit.close(), this.cancel.close()]);
  }
}
