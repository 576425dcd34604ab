/** An attempt's handle names its Batch task: "<jobId>/<taskId>" (the job has the pool's id). */
export interface Handle {
  jobId: string;
  taskId: string;
}

export function handleOf(jobId: string, taskId: string): string {
  return `${jobId}/${taskId}`;
}

export function parseHandle(handle: string): Handle | undefined {
  const slash = handle.indexOf("/");
  if (slash <= 0 || slash === handle.length - 1) return undefined;
  return { jobId: handle.slice(0, slash), taskId: handle.slice(slash + 1) };
}

/**
 * Batch ids are unique without regard to case, and its enums' casing differs between the 10.2.0
 * typings and the wire (shared/notes/AZURE-BATCH.md §2 "Enum casing"): both are compared lower-cased.
 */
export const lower = (value: string | undefined) => (value ?? "").toLowerCase();
