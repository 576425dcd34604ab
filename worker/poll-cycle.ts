import { trace } from "@opentelemetry/api";
import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { ALL, type FollowedTask, type TaskRecord } from "../src/store/task-store.js";
import { instruments } from "../src/telemetry/instruments.js";
import { bulkCall, inTaskTrace, type BulkCall } from "../src/telemetry/task-trace.js";
import type { AttemptStatus } from "./backends/compute-backend.js";
import { FOLLOWED_STATES, followAttempt, type FollowStep } from "./task-state-machine.js";
import { updateTask, type Decision } from "./update-task.js";
import type { WorkerContext } from "./worker-context.js";

/** A status that changed nothing for a task at a version: the same again changes nothing. */
interface Unchanged {
  version: number;
  status: string;
}

/** Per worker pool (its context), what the last cycles found unchanged, by task id. */
const unchangedByPool = new WeakMap<WorkerContext, Map<string, Unchanged>>();

/**
 * One poll cycle, run by the job scheduler: every followed task's attempt is polled in bulk, one
 * backend call per batch of handles, and what changed is written with compare-and-set. Ended
 * attempts are released in bulk after their results are stored; preempted ones are retried or
 * ended. Returns the number of tasks polled.
 *
 * Cheap when nothing changes, which is most polls: the store is read without task documents
 * (findFollowed), and a task is read in full (its document decoded) only when its status may
 * change it: never for a status that changes no task, nor for the same status at the same version
 * as a cycle of this process already found unchanged.
 *
 * Traced: each bulk backend call (poll, release) links to the trace of every task it serves, and
 * each change written is a "poll update" span in the task's own trace (task-trace.ts).
 */
export async function runPollCycle(context: WorkerContext): Promise<number> {
  const { config } = context;
  const followed = await context.store.findFollowed(FOLLOWED_STATES, config.pollMaxTasks);
  let unchanged = unchangedByPool.get(context);
  if (unchanged === undefined) unchangedByPool.set(context, (unchanged = new Map()));
  let failures = 0;
  for (let start = 0; start < followed.length; start += config.pollBatchSize) {
    const batch = followed.slice(start, start + config.pollBatchSize);
    // One batch or one task that fails (a backend hiccup, a store error) must not stop the others.
    try {
      let pollCall: BulkCall | undefined;
      const statuses = await bulkCall(
        batch.map((task) => task.traceContext),
        (bulk) => {
          pollCall = bulk;
          return context.backend.poll(batch.map((task) => task.backendHandle));
        },
      );
      if (statuses.length !== batch.length) {
        throw new Error(`the backend answered ${statuses.length} statuses for ${batch.length} handles`);
      }
      const applied = await Promise.allSettled(
        batch.map((task, i) => applyStatus(context, task, statuses[i] as AttemptStatus, pollCall, unchanged)),
      );
      const over: FollowedTask[] = [];
      applied.forEach((outcome, i) => {
        if (outcome.status === "rejected") {
          failures++;
          context.logger.warn({ err: outcome.reason, taskId: batch[i]?.id }, "cannot record a polled status");
        } else if (outcome.value) {
          over.push(batch[i]!);
        }
      });
      await releaseEnded(context, over);
    } catch (error) {
      failures += batch.length;
      context.logger.warn({ err: error, handles: batch.length }, "cannot poll the backend");
    }
  }
  // Forget tasks no longer followed (ended, canceled, resubmitted), so the map stays as big as the work.
  const ids = new Set(followed.map((task) => task.id));
  for (const id of unchanged.keys()) if (!ids.has(id)) unchanged.delete(id);
  if (failures > 0 && failures === followed.length) {
    throw new Error(`no status of the ${followed.length} polled attempts could be recorded`);
  }
  return followed.length;
}

/** A status's identity, for "the same status again"; undefined for those that always change a task. */
function statusKey(status: AttemptStatus): string | undefined {
  if (status.phase !== "queued" && status.phase !== "initializing" && status.phase !== "running") return undefined;
  return JSON.stringify(status, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

/**
 * Records one polled status. Resolves true when the attempt is over (its result is stored) and its
 * handle must be released.
 */
async function applyStatus(
  context: WorkerContext,
  followed: FollowedTask,
  status: AttemptStatus,
  pollCall: BulkCall | undefined,
  unchanged: Map<string, Unchanged>,
): Promise<boolean> {
  // followAttempt changes no task for these (task-state-machine.ts): no read at all.
  if (status.phase === "initializing" || (status.phase === "queued" && status.reason === undefined)) return false;
  const key = statusKey(status);
  const seen = unchanged.get(followed.id);
  if (key !== undefined && seen !== undefined && seen.version === followed.version && seen.status === key) return false;

  const now = new Date();
  const handle = followed.backendHandle;
  const decide = (record: TaskRecord): Decision<FollowStep | undefined> => {
    // Another worker moved it on (a cancel, an earlier poll of a retried attempt): not ours to change.
    if (record.backendHandle !== handle) return { effect: undefined };
    const step = followAttempt(record.task, status, { preemptionRetries: context.config.preemptionRetries, now });
    if (step === undefined) return { effect: undefined };
    return { change: step.resubmit ? { task: step.task, backendHandle: "" } : { task: step.task }, effect: step };
  };
  const known = await context.store.get(followed.id, ALL);
  if (known === undefined) return false;
  if (decide(known).change === undefined) {
    // Remembered only when this status was about the attempt stored now (not one replaced since).
    if (key !== undefined && known.backendHandle === handle) unchanged.set(followed.id, { version: known.version, status: key });
    return false;
  }

  // A change: written in the task's own trace, as a child of its CreateTask call.
  return inTaskTrace("poll update", { id: followed.id, traceContext: known.traceContext }, pollCall, async () => {
    const decided = await updateTask<FollowStep | undefined>(context, followed.id, decide, known);
    const step = decided?.effect;
    if (decided === undefined || step === undefined) return false;
    trace.getActiveSpan()?.setAttributes({
      "tes.backend.phase": status.phase,
      "tes.task.from": State[known.task.state]!,
      "tes.task.to": State[decided.record.task.state]!,
    });
    // The same status on the task as written changes it no more (followAttempt is idempotent).
    if (key !== undefined) unchanged.set(followed.id, { version: decided.record.version, status: key });
    // Written just now by this compare-and-set (an ended attempt moves its task to a final state, and
    // final tasks are not followed), so each attempt's input bytes count once. They are recorded here
    // and not with the output bytes in update-task.ts because the task's logs have no place for them.
    if (status.phase === "ended" && status.result.inputBytes !== undefined && status.result.inputBytes > 0n) {
      instruments().inputBytes.add(Number(status.result.inputBytes), { state: State[step.task.state]! });
    }
    // Enqueued in the task's trace: the retried attempt's submit job continues it.
    if (step.resubmit) await context.queue.enqueueSubmit(followed.id);
    return step.attemptOver;
  });
}

/** Frees what the ended attempts of one batch still hold, in one backend call linked to each task. */
async function releaseEnded(context: WorkerContext, over: readonly FollowedTask[]): Promise<void> {
  if (over.length === 0) return;
  try {
    await bulkCall(
      over.map((task) => task.traceContext),
      () => context.backend.release(over.map((task) => task.backendHandle)),
    );
  } catch (error) {
    // The results are stored: only what the attempts hold on the backend is left behind.
    context.logger.warn({ err: error, handles: over.length }, "cannot release ended attempts");
  }
}
