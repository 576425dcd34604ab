import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { isTerminal } from "../src/store/task-states.js";
import type { SubmitOutcome } from "./backends/compute-backend.js";
import { buildAttempt } from "./build-attempt.js";
import {
  attemptBlocked,
  attemptRejected,
  attemptSubmitted,
  beginAttempt,
  currentAttemptIndex,
} from "./task-state-machine.js";
import { updateTask } from "./update-task.js";
import type { WorkerContext } from "./worker-context.js";

/**
 * A submit job: hands a QUEUED task's attempt to the backend and records the handle. Idempotent:
 * the attempt's log entry is written before the backend is called and the backend answers a known
 * attempt id with its existing handle, so a duplicate delivery or a retry after a crash submits
 * the same attempt again at no cost, and a task no longer QUEUED is left alone.
 */
export async function runSubmitJob(context: WorkerContext, taskId: string): Promise<void> {
  const prepared = await updateTask(context, taskId, (record) => {
    if (record.task.state !== State.QUEUED || record.backendHandle !== "") return { effect: false };
    if (record.task.logs.length > 0) return { effect: true };
    return { change: { task: beginAttempt(record.task) }, effect: true };
  });
  if (prepared === undefined || !prepared.effect) return;

  const attempt = buildAttempt(prepared.record.task, context.backend.capabilities);
  const outcome = await context.submitter.submit(attempt);
  await recordSubmitOutcome(context, taskId, attempt.attempt, outcome);
}

type Afterwards = "nothing" | "finish-cancel" | "abandon";

async function recordSubmitOutcome(
  context: WorkerContext,
  taskId: string,
  attempt: number,
  outcome: SubmitOutcome,
): Promise<void> {
  const now = new Date();
  const decided = await updateTask<Afterwards>(context, taskId, (record) => {
    const { task, backendHandle } = record;
    const sameAttempt = currentAttemptIndex(task) === attempt;
    if (outcome.kind !== "submitted") {
      if (task.state !== State.QUEUED || backendHandle !== "" || !sameAttempt) return { effect: "nothing" };
      const next = outcome.kind === "blocked" ? attemptBlocked(task, outcome.reason) : attemptRejected(task, outcome.reason, now);
      return next === undefined ? { effect: "nothing" } : { change: { task: next }, effect: "nothing" };
    }
    if (backendHandle === outcome.handle) return { effect: "nothing" };
    if (backendHandle === "" && sameAttempt && task.state === State.QUEUED) {
      return { change: { task: attemptSubmitted(task), backendHandle: outcome.handle }, effect: "nothing" };
    }
    if (backendHandle === "" && sameAttempt && task.state === State.CANCELING) {
      // Canceled while the backend was being asked: record the handle so the cancel stops it.
      return { change: { task, backendHandle: outcome.handle }, effect: "finish-cancel" };
    }
    // The task moved on without this attempt (canceled, ended, or a newer attempt): stop it.
    return { effect: "abandon" };
  });
  if (decided === undefined) return;
  if (outcome.kind === "submitted" && decided.effect === "abandon") {
    context.logger.info({ taskId, handle: outcome.handle }, "stopping an attempt the task no longer needs");
    await context.backend.cancel([outcome.handle]);
    if (isTerminal(decided.record.task.state)) await context.backend.release([outcome.handle]);
  }
  if (decided.effect === "finish-cancel") await context.queue.enqueueCancel(taskId);
}
