import type { Logger } from "pino";
import type { WorkerConfig } from "../src/config/worker.js";
import type { BullMqTaskQueue } from "../src/queue/bullmq-task-queue.js";
import type { TaskStore } from "../src/store/task-store.js";
import type { ComputeBackend } from "./backends/compute-backend.js";
import type { SubmitBatcher } from "./submit-batcher.js";

/** What every job of the worker pool works with. */
export interface WorkerContext {
  readonly store: TaskStore;
  readonly backend: ComputeBackend;
  readonly submitter: SubmitBatcher;
  /** For the work a job hands on: a retry after preemption, a cancel to finish, the sweep's re-enqueues. */
  readonly queue: BullMqTaskQueue;
  readonly config: WorkerConfig;
  readonly logger: Logger;
}
