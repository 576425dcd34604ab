import type { TaskQueue } from "../../queue/task-queue.js";

/** A TaskQueue for service tests: records what the service enqueued, and can be made to fail. */
export class RecordingQueue implements TaskQueue {
  readonly submitted: string[] = [];
  readonly canceled: string[] = [];
  /** While set, every enqueue throws this error, as a Redis outage would. */
  failWith: Error | undefined;
  /** While set, every enqueue waits for it before it is recorded (or fails), as a slow Redis would. */
  holdUntil: Promise<void> | undefined;

  async enqueueSubmit(taskId: string): Promise<void> {
    if (this.holdUntil !== undefined) await this.holdUntil;
    if (this.failWith !== undefined) throw this.failWith;
    this.submitted.push(taskId);
  }

  async enqueueCancel(taskId: string): Promise<void> {
    if (this.holdUntil !== undefined) await this.holdUntil;
    if (this.failWith !== undefined) throw this.failWith;
    this.canceled.push(taskId);
  }

  async close(): Promise<void> {}
}
