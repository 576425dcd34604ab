/**
 * The BullMQ queues between the API and the worker pool, all under one key prefix. Submissions and
 * cancellations have their own queues so a cancel never waits behind a backlog of submissions;
 * the periodic queue carries the job schedulers' ticks (bulk polls, recovery sweeps).
 */
export const SUBMIT_QUEUE = "submit";
export const CANCEL_QUEUE = "cancel";
export const PERIODIC_QUEUE = "periodic";

/** What a submit or cancel job carries: the task's id only; the store holds the rest. */
export interface TaskJobData {
  taskId: string;
  /** The W3C trace context of the call that enqueued it (traceparent, tracestate), when traced. */
  traceContext?: Record<string, string>;
}
