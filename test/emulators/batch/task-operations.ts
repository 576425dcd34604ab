import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Json, JobRecord, TaskRecord } from "./account-model.js";
import { BatchError, batchTime, errors, propertyError } from "./batch-error.js";
import { validateTaskBody, type ValidTaskBody } from "./task-body.js";
import { asObject } from "./request-validation.js";
import type { AccountState } from "./account-state.js";
import { jobAcceptingTasks, jobForTasks } from "./job-operations.js";
import { endByService, stopRun } from "./task-runs.js";

/**
 * Tasks (§3): Task Add, AddCollection, List, Terminate, Delete, and where a task's files live.
 */
export function addTask(account: AccountState, jobId: string, body: Json): TaskRecord {
  const job = jobAcceptingTasks(account, jobId);
  const valid = validateTaskBody(body);
  if (job.tasks.has(valid.id.toLowerCase())) throw errors.taskExists();
  return insertTask(account, job, body, valid);
}

export function insertTask(account: AccountState, job: JobRecord, body: Json, valid: ValidTaskBody): TaskRecord {
  const now = account.now();
  job.taskSequence += 1;
  const jobConstraints = (job.spec.constraints ?? {}) as Json;
  const jobRetry = typeof jobConstraints.maxTaskRetryCount === "number" ? jobConstraints.maxTaskRetryCount : undefined;
  const taskConstraints = (body.constraints ?? {}) as Json;
  const task: TaskRecord = {
    ...account.freshStamp(),
    id: valid.id,
    job,
    spec: body,
    sequence: job.taskSequence,
    creationTime: now,
    state: "active",
    stateTransitionTime: now,
    execution: { retryCount: 0, requeueCount: 0 },
    maxTaskRetryCount: taskConstraints.maxTaskRetryCount === undefined && jobRetry !== undefined ? jobRetry : valid.maxTaskRetryCount,
    maxWallClockMs: valid.maxWallClockMs,
    requiredSlots: valid.requiredSlots,
    runId: 0,
  };
  job.tasks.set(valid.id.toLowerCase(), task);
  job.queue.push(task);
  return task;
}

/** §3 Task AddCollection: ≤ 100 tasks; per-task results, in any order; 200 even when every task failed. */
export function addTaskCollection(account: AccountState, jobId: string, body: Json, errorContext: (err: BatchError) => Json): Json[] {
  const job = jobAcceptingTasks(account, jobId);
  const value = body.value;
  if (!Array.isArray(value)) throw propertyError(errors.missingRequiredProperty, "value");
  if (value.length > 100) throw propertyError(errors.invalidPropertyValue, "value", "a collection holds at most 100 tasks");
  const serverErrors = account.config.faults.takeAddCollection()?.tasks ?? 0;
  const results = value.map((item, index): Json => {
    const taskId = typeof item === "object" && item !== null && typeof (item as Json).id === "string" ? ((item as Json).id as string) : "";
    if (index < serverErrors) {
      return { status: "serverError", taskId, error: errorContext(errors.operationTimedOut()) };
    }
    try {
      const taskBody = asObject(item, `value[${index}]`);
      const valid = validateTaskBody(taskBody);
      if (job.tasks.has(valid.id.toLowerCase())) throw errors.taskExists();
      const task = insertTask(account, job, taskBody, valid);
      return { status: "success", taskId: task.id, eTag: task.eTag, lastModified: batchTime(task.lastModified), location: account.url(`/jobs/${job.id}/tasks/${task.id}`) };
    } catch (err) {
      if (!(err instanceof BatchError)) throw err;
      return { status: "clientError", taskId, error: errorContext(err) };
    }
  });
  if (account.config.shuffleAddCollectionResults) {
    for (let i = results.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [results[i], results[j]] = [results[j] as Json, results[i] as Json];
    }
  }
  return results;
}

export function listTasks(account: AccountState, jobId: string): TaskRecord[] {
  return [...jobForTasks(account, jobId).tasks.values()];
}

export function terminateTask(account: AccountState, jobId: string, taskId: string): void {
  jobForTasks(account, jobId);
  const task = account.getTask(jobId, taskId);
  if (task.state === "completed") throw errors.taskCompleted();
  endByService(account, task, "TaskEnded", "Task was ended by user request", "userError");
}

export function deleteTask(account: AccountState, jobId: string, taskId: string): void {
  const job = jobForTasks(account, jobId);
  const task = account.getTask(jobId, taskId);
  stopRun(account, task);
  job.tasks.delete(task.id.toLowerCase());
  // §3 Task Delete: the task's node files go too, whatever the retention time.
  void removeTaskFiles(account, task);
}

export function taskDir(account: AccountState, task: TaskRecord): string | undefined {
  if (task.filesNode === undefined) return undefined;
  return join(task.filesNode.rootDir, "workitems", task.job.id, "job-1", task.id);
}

export async function removeTaskFiles(account: AccountState, task: TaskRecord): Promise<void> {
  const dir = taskDir(account, task);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
