/**
 * What a cancel job, or a submit job for one task, carries: the task's id only; the store holds the
 * rest. Such a job's id is the task id, so a task waits in each queue at most once (the recovery
 * sweep re-enqueues every lost task each time it runs, and must not double those still waiting).
 */
export interface TaskJobData {
  taskId: string;
  /** The W3C trace context of the call that enqueued it (traceparent, tracestate), when traced. */
  traceContext?: Record<string, string>;
}

/**
 * A submit job for the tasks CreateTask stored in one event-loop turn: one Redis job for them all,
 * since BullMQ's client spends about 40 µs of CPU per job (test/bench, createTaskParts). It has no
 * id of its own to dedupe by, so a task still waiting in one may get a job of its own from the
 * recovery sweep too; both are harmless, as every submit is idempotent.
 */
export interface SubmitBatchJobData {
  tasks: TaskJobData[];
}

export type SubmitJobData = TaskJobData | SubmitBatchJobData;

/** The tasks a job carries, whichever its shape; none when its data is not a task job's. */
export function tasksOfJob(data: unknown): TaskJobData[] {
  if (typeof data !== "object" || data === null) return [];
  if ("tasks" in data && Array.isArray(data.tasks)) return (data.tasks as unknown[]).filter(isTaskJobData);
  return isTaskJobData(data) ? [data] : [];
}

function isTaskJobData(value: unknown): value is TaskJobData {
  return typeof value === "object" && value !== null && typeof (value as { taskId?: unknown }).taskId === "string";
}
