import { clone, create, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  State,
  TaskLogSchema,
  TaskSchema,
  type CancelTaskRequest,
  type CancelTaskResponseSchema,
  type Task,
} from "../gen/ga4gh/tes/v1/tes_pb.js";
import { TerminalStateError } from "../store/store-errors.js";
import { isTerminal } from "../store/task-states.js";
import type { TaskRecord } from "../store/task-store.js";
import { callerOf } from "./caller-of.js";
import { enqueueInBackground } from "./enqueue-in-background.js";
import { errors } from "./errors.js";
import { isPossibleTaskId } from "./task-id.js";
import type { ResolvedDeps } from "./task-service-deps.js";
import { rfc3339 } from "./timestamps.js";

/** How often a cancel re-reads and retries when the worker changes the task in between. */
export const CANCEL_ATTEMPTS = 8;

/**
 * CancelTask, idempotent: a task that has ended, or is already being cancelled, is left as it is
 * and the answer is still `{}` (TES leaves this open; ga4gh/task-execution-schemas#161 asks for a
 * no-op). A QUEUED task that no attempt has reached yet goes straight to CANCELED; any other goes
 * to CANCELING and the worker stops its attempt and finishes the cancel. Every change is a
 * compare-and-set, so a cancel racing the worker never overwrites what the worker wrote.
 */
export function cancelTaskHandler(deps: ResolvedDeps) {
  return async (
    request: CancelTaskRequest,
    context: HandlerContext,
  ): Promise<MessageInitShape<typeof CancelTaskResponseSchema>> => {
    if (request.id === "") throw errors.fieldRequired("id");
    if (!isPossibleTaskId(request.id)) throw errors.taskNotFound(request.id);
    const scope = callerOf(context).scope;

    for (let attempt = 0; attempt < CANCEL_ATTEMPTS; attempt++) {
      const record = await deps.store.get(request.id, scope);
      if (record === undefined) throw errors.taskNotFound(request.id);
      const state = record.task.state;
      if (isTerminal(state) || state === State.CANCELING) return {};

      const change = cancellation(record, deps.clock());
      const updated = await changeUnlessEnded(deps, record, change);
      if (updated === undefined) continue;

      if (change.state === State.CANCELING) {
        // The task is CANCELING in the store, which is what matters: the worker's sweep finds
        // CANCELING tasks without a job and finishes them, so the request succeeds either way.
        enqueueInBackground(
          () => deps.queue.enqueueCancel(record.task.id),
          (error) => deps.logger.warn({ err: error, taskId: record.task.id }, "task set CANCELING but not enqueued; the recovery sweep will cancel it"),
        );
      }
      return {};
    }
    throw errors.concurrentUpdate(request.id, CANCEL_ATTEMPTS);
  };
}

/**
 * The compare-and-set; undefined when the task moved on meanwhile (a new version, or the worker
 * ended it), so that the caller re-reads and decides again.
 */
async function changeUnlessEnded(deps: ResolvedDeps, record: TaskRecord, task: Task): Promise<TaskRecord | undefined> {
  try {
    return await deps.store.update(record.task.id, record.version, { task, backendHandle: record.backendHandle });
  } catch (error) {
    if (error instanceof TerminalStateError) return undefined;
    throw error;
  }
}

/**
 * Whether no attempt can have reached the backend: QUEUED, no handle, and no log entry. The worker
 * writes an attempt's log entry before it calls the backend and the handle after, so a QUEUED task
 * with an entry but no handle may have an attempt running that only the worker can find and stop
 * (worker/task-state-machine.ts, hasPendingAttempt). Such a task, like a task whose first entry
 * holds a backend_parameters warning from CreateTask, goes through CANCELING.
 */
function nothingStarted(record: TaskRecord): boolean {
  return record.task.state === State.QUEUED && record.backendHandle === "" && record.task.logs.length === 0;
}

/** The task as it should be after the cancel: CANCELED if nothing can be running, else CANCELING. */
function cancellation(record: TaskRecord, now: Date): Task {
  const task = clone(TaskSchema, record.task);
  if (nothingStarted(record)) {
    task.state = State.CANCELED;
    // The task ends now, and its log says when.
    task.logs = [create(TaskLogSchema, { endTime: rfc3339(now) })];
  } else {
    task.state = State.CANCELING;
  }
  return task;
}
