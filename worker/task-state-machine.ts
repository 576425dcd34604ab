import { clone, create } from "@bufbuild/protobuf";
import {
  ExecutorLogSchema,
  FileType,
  OutputFileLogSchema,
  State,
  TaskLogSchema,
  TaskSchema,
  type ExecutorLog,
  type Task,
  type TaskLog,
} from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { hasWildcards, normalizedPath } from "../src/service/container-path.js";
import { isTerminal, stateName } from "../src/store/task-states.js";
import type { AttemptResult, AttemptStatus, ExecutorResult, OutputFileResult } from "./backends/compute-backend.js";

/**
 * The task state machine, in one place. Each function takes a task as read from the store and
 * returns the task as it should be written next (a copy), or undefined when nothing changes; the
 * worker writes it with a compare-and-set and decides again on a conflict.
 *
 * QUEUED -> INITIALIZING (the backend accepted the attempt) -> RUNNING -> COMPLETE, EXECUTOR_ERROR,
 * SYSTEM_ERROR or PREEMPTED; any of the first three -> CANCELING (CancelTask) -> CANCELED. A
 * preempted attempt with retries left goes back to QUEUED with a new entry in `logs`: the one
 * backwards move, because the task really waits for a new attempt.
 *
 * Attempts: logs[i] belongs to attempt i. A QUEUED task with no backend handle and a last log entry
 * has an attempt that may already have reached the backend (the worker writes the entry before it
 * calls submit), so it is submitted again under the same attempt id, which the backend answers
 * with the existing handle: a crash anywhere neither loses nor repeats an attempt.
 */

const ALLOWED: ReadonlyMap<State, readonly State[]> = new Map([
  [State.QUEUED, [State.INITIALIZING, State.SYSTEM_ERROR, State.CANCELING]],
  [
    State.INITIALIZING,
    [State.RUNNING, State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.PREEMPTED, State.QUEUED, State.CANCELING],
  ],
  [
    State.RUNNING,
    [State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.PREEMPTED, State.QUEUED, State.CANCELING],
  ],
  [State.CANCELING, [State.CANCELED]],
]);

/** Whether `from` may become `to`; staying in the same state (to add logs) is always allowed. */
export function canTransition(from: State, to: State): boolean {
  return from === to || (ALLOWED.get(from)?.includes(to) ?? false);
}

/** The states in which a task's attempt runs on the backend and is followed by polls. */
export const FOLLOWED_STATES: readonly State[] = [State.INITIALIZING, State.RUNNING];

export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
}

function moveTo(task: Task, to: State): Task {
  if (!canTransition(task.state, to)) {
    throw new IllegalTransitionError(`a ${stateName(task.state)} task cannot become ${stateName(to)}`);
  }
  const next = clone(TaskSchema, task);
  next.state = to;
  return next;
}

/** The index of the task's current attempt, -1 before the first. */
export function currentAttemptIndex(task: Task): number {
  return task.logs.length - 1;
}

export function attemptId(taskId: string, attempt: number): string {
  return `${taskId}-${attempt}`;
}

/**
 * True when a QUEUED (or CANCELING) task without a handle already has an attempt that may have
 * reached the backend: the cancel must find it by submitting the same attempt id again.
 */
export function hasPendingAttempt(task: Task, backendHandle: string): boolean {
  return (task.state === State.QUEUED || task.state === State.CANCELING) && backendHandle === "" && task.logs.length > 0;
}

function lastLog(task: Task): TaskLog {
  const log = task.logs.at(-1);
  if (log === undefined) throw new IllegalTransitionError(`task ${task.id} has no attempt`);
  return log;
}

function addSystemLogOnce(log: TaskLog, message: string): boolean {
  if (log.systemLogs.at(-1) === message) return false;
  log.systemLogs.push(message);
  return true;
}

/** A QUEUED task gets its first attempt's log entry, written before the backend hears of it. */
export function beginAttempt(task: Task): Task {
  if (task.state !== State.QUEUED) {
    throw new IllegalTransitionError(`only a QUEUED task starts an attempt, not a ${stateName(task.state)} one`);
  }
  const next = clone(TaskSchema, task);
  next.logs.push(create(TaskLogSchema));
  return next;
}

/** The backend accepted the attempt. */
export function attemptSubmitted(task: Task): Task {
  return moveTo(task, State.INITIALIZING);
}

/** Quota or capacity blocks the attempt: it stays QUEUED and says why, once. */
export function attemptBlocked(task: Task, reason: string): Task | undefined {
  const next = clone(TaskSchema, task);
  return addSystemLogOnce(lastLog(next), `waiting for the backend: ${reason}`) ? next : undefined;
}

/** The backend can never run the task as asked. */
export function attemptRejected(task: Task, reason: string, now: Date): Task {
  const next = moveTo(task, State.SYSTEM_ERROR);
  const log = lastLog(next);
  log.systemLogs.push(`the backend rejected the task: ${reason}`);
  log.endTime ||= now.toISOString();
  return next;
}

/** A cancel asked for by CancelTask has stopped the attempt (or there was none). */
export function cancelFinished(task: Task, now: Date): Task {
  const next = moveTo(task, State.CANCELED);
  const log = next.logs.at(-1);
  if (log !== undefined) {
    log.endTime ||= now.toISOString();
    log.systemLogs.push("canceled on request");
  }
  return next;
}

export interface FollowOptions {
  /** New attempts allowed after preemptions. */
  preemptionRetries: number;
  now: Date;
}

export interface FollowStep {
  task: Task;
  /** The attempt ended: its handle is released once this is written. */
  attemptOver: boolean;
  /** A new attempt must be submitted (preemption with retries left); the handle is cleared. */
  resubmit: boolean;
}

/** What a poll of a followed (INITIALIZING or RUNNING) task's attempt changes; undefined for nothing. */
export function followAttempt(task: Task, status: AttemptStatus, options: FollowOptions): FollowStep | undefined {
  if (isTerminal(task.state) || !FOLLOWED_STATES.includes(task.state)) return undefined;
  const now = options.now.toISOString();
  switch (status.phase) {
    case "queued": {
      if (status.reason === undefined) return undefined;
      // The backend phrases why its attempt waits (no node yet, host capacity); said once.
      if (lastLog(task).systemLogs.at(-1) === status.reason) return undefined;
      const next = clone(TaskSchema, task);
      lastLog(next).systemLogs.push(status.reason);
      return { task: next, attemptOver: false, resubmit: false };
    }
    case "initializing":
      return undefined;
    case "running": {
      const executors = status.executorLogs?.map(executorLog);
      const current = lastLog(task);
      // Before any executor has ended, the first poll that sees the attempt running is the best
      // start time known; the result document's own start time replaces it when the attempt ends.
      const startTime = current.startTime || status.executorLogs?.[0]?.startTime || now;
      // Polls repeat themselves; most find nothing new, and write nothing.
      if (
        task.state === State.RUNNING &&
        startTime === current.startTime &&
        (executors === undefined || sameExecutorLogs(current.logs, executors))
      ) {
        return undefined;
      }
      const next = moveTo(task, State.RUNNING);
      const log = lastLog(next);
      if (executors !== undefined) log.logs = executors;
      log.startTime = startTime;
      return { task: next, attemptOver: false, resubmit: false };
    }
    case "ended":
      return { task: attemptEnded(task, status.result, now), attemptOver: true, resubmit: false };
    case "preempted": {
      const attempt = currentAttemptIndex(task);
      if (attempt < options.preemptionRetries) {
        const next = moveTo(task, State.QUEUED);
        const log = lastLog(next);
        log.endTime ||= now;
        log.systemLogs.push(`attempt ${attempt + 1} was preempted (${status.reason}); retrying`);
        next.logs.push(create(TaskLogSchema));
        return { task: next, attemptOver: true, resubmit: true };
      }
      const next = moveTo(task, State.PREEMPTED);
      const log = lastLog(next);
      log.endTime ||= now;
      log.systemLogs.push(
        `attempt ${attempt + 1} was preempted (${status.reason}); no retries left after ${options.preemptionRetries}`,
      );
      return { task: next, attemptOver: true, resubmit: false };
    }
    case "unknown": {
      const next = moveTo(task, State.SYSTEM_ERROR);
      const log = lastLog(next);
      log.endTime ||= now;
      log.systemLogs.push(`the backend lost the attempt: ${status.reason}`);
      return { task: next, attemptOver: false, resubmit: false };
    }
  }
}

const OUTCOME_STATE: Readonly<Record<AttemptResult["outcome"], State>> = {
  complete: State.COMPLETE,
  executor_error: State.EXECUTOR_ERROR,
  system_error: State.SYSTEM_ERROR,
  // Not asked for by CancelTask (a canceled task is not followed): something else stopped it.
  canceled: State.SYSTEM_ERROR,
};

/** The attempt's result document, written into the task's current log entry. */
function attemptEnded(task: Task, result: AttemptResult, now: string): Task {
  const next = moveTo(task, OUTCOME_STATE[result.outcome]);
  const log = lastLog(next);
  log.startTime = result.startTime || log.startTime || result.executors[0]?.startTime || "";
  log.endTime = result.endTime || now;
  log.logs = result.executors.map(executorLog);
  log.outputs = result.outputs.map((output) =>
    create(OutputFileLogSchema, { url: output.url, path: output.path, sizeBytes: output.sizeBytes }),
  );
  log.systemLogs.push(...result.systemLogs);
  if (result.outcome === "canceled") log.systemLogs.push("the attempt was stopped outside this server");
  if (result.metadata !== undefined) Object.assign(log.metadata, result.metadata);
  fillOutputTypes(next, result.outputs);
  return next;
}

/**
 * TES asks the server to fill in a file's type once the run knows it. An output the client left
 * untyped (and without wildcards, which may match either) is a FILE when a file was uploaded from
 * its very path, a DIRECTORY when files were uploaded from under it; untouched when nothing was.
 */
function fillOutputTypes(task: Task, uploaded: readonly OutputFileResult[]): void {
  const files = new Set<string>();
  const directories = new Set<string>();
  for (const file of uploaded) {
    const path = normalizedPath(file.path);
    files.add(path);
    // Every directory above the file; once one is known, so are those above it.
    for (let end = path.lastIndexOf("/"); end > 0; end = path.lastIndexOf("/", end - 1)) {
      const directory = path.slice(0, end);
      if (directories.has(directory)) break;
      directories.add(directory);
    }
  }
  for (const output of task.outputs) {
    if (output.type !== undefined || hasWildcards(output.path)) continue;
    const path = normalizedPath(output.path);
    if (files.has(path)) output.type = FileType.FILE;
    else if (directories.has(path)) output.type = FileType.DIRECTORY;
  }
}

function executorLog(result: ExecutorResult): ExecutorLog {
  return create(ExecutorLogSchema, {
    exitCode: result.exitCode,
    startTime: result.startTime ?? "",
    endTime: result.endTime ?? "",
    stdout: result.stdout ?? "",
    stderr: result.stderr ?? "",
  });
}

function sameExecutorLogs(a: readonly ExecutorLog[], b: readonly ExecutorLog[]): boolean {
  return (
    a.length === b.length &&
    a.every((log, i) => {
      const other = b[i];
      return (
        other !== undefined &&
        log.exitCode === other.exitCode &&
        log.startTime === other.startTime &&
        log.endTime === other.endTime &&
        log.stdout === other.stdout &&
        log.stderr === other.stderr
      );
    })
  );
}
