import { Queue, type JobsOptions } from "bullmq";
import type { RedisOptions } from "../redis/redis-address.js";
import { CANCEL_QUEUE, SUBMIT_QUEUE, type TaskJobData } from "./queue-names.js";
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
}

/**
 * The TaskQueue on BullMQ. Each task has at most one pending job per queue: the job id is the task
 * id, so enqueuing a task that already waits is a no-op. Finished jobs are removed at once, so the
 * same task can be enqueued again later (a retry, a recovery sweep); the worker makes every job
 * idempotent by re-reading the task from the store.
 */
export class BullMqTaskQueue implements TaskQueue {
  private readonly submit: Queue<TaskJobData>;
  private readonly cancel: Queue<TaskJobData>;
  private readonly jobOptions: JobsOptions;

  constructor(options: BullMqTaskQueueOptions) {
    // Fail fast when Redis is away: the task is already stored, and the sweep enqueues it later.
    const connection: RedisOptions = { ...options.connection, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    this.submit = new Queue<TaskJobData>(SUBMIT_QUEUE, { connection, prefix: options.prefix });
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
  }

  async enqueueSubmit(taskId: string): Promise<void> {
    await this.submit.add("submit", { taskId }, { ...this.jobOptions, jobId: taskId });
  }

  async enqueueCancel(taskId: string): Promise<void> {
    await this.cancel.add("cancel", { taskId }, { ...this.jobOptions, jobId: taskId });
  }

  /** Enqueues many submissions in one round trip (the recovery sweep). */
  async enqueueSubmitMany(taskIds: readonly string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.submit.addBulk(
      taskIds.map((taskId) => ({ name: "submit", data: { taskId }, opts: { ...this.jobOptions, jobId: taskId } })),
    );
  }

  /** Enqueues many cancellations in one round trip (the recovery sweep). */
  async enqueueCancelMany(taskIds: readonly string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.cancel.addBulk(
      taskIds.map((taskId) => ({ name: "cancel", data: { taskId }, opts: { ...this.jobOptions, jobId: taskId } })),
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.submit.close(), this.cancel.close()]);
  }
}
