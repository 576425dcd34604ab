/**
 * What the API tells the worker pool. Jobs carry task ids only; the store stays the truth, so a
 * lost or duplicated job is harmless: the worker re-reads the task and does only what its state
 * still calls for, and the recovery sweep re-enqueues whatever the queue lost.
 */
export interface TaskQueue {
  /** A task was stored as QUEUED: submit it to the compute backend. */
  enqueueSubmit(taskId: string): Promise<void>;
  /** A task was moved to CANCELING: stop its attempt and finish the cancel. */
  enqueueCancel(taskId: string): Promise<void>;
  close(): Promise<void>;
}
