import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { TaskRecord } from "../src/store/task-store.js";
import { instruments } from "../src/telemetry/instruments.js";
import type { AttemptStatus } from "./backends/compute-backend.js";
import { FOLLOWED_STATES, followAttempt, type FollowStep } from "./task-state-machine.js";
import { updateTask } from "./update-task.js";
import type { WorkerContext } from "./worker-context.js";

/** Far enough ahead that findStale returns every followed task, however recently written. */
const FUTURE_MS = 24 * 3600 * 1000;

/**
 * One poll cycle, run by the job scheduler: every followed task's attempt is polled in bulk, one
 * backend call per batch of handles, and what changed is written with compare-and-set. Ended
 * attempts are released after their result is stored; preempted ones are retried or ended.
 * Returns the number of tasks polled.
 */
export async function runPollCycle(context: WorkerContext): Promise<number> {
  const { config } = context;
  const records = (
    await context.store.findStale(FOLLOWED_STATES, new Date(Date.now() + FUTURE_MS), config.pollMaxTasks)
  ).filter((record) => record.backendHandle !== "");
  let failures = 0;
  for (let start = 0; start < records.length; start += config.pollBatchSize) {
    const batch = records.slice(start, start + config.pollBatchSize);
    // One batch or one task that fails (a backend hiccup, a store error) must not stop the others.
    try {
      const statuses = await context.backend.poll(batch.map((record) => record.backendHandle));
      if (statuses.length !== batch.length) {
        throw new Error(`the backend answered ${statuses.length} statuses for ${batch.length} handles`);
      }
      const applied = await Promise.allSettled(
        batch.map((record, i) => applyStatus(context, record, statuses[i] as AttemptStatus)),
      );
      applied.forEach((outcome, i) => {
        if (outcome.status === "rejected") {
          failures++;
          context.logger.warn({ err: outcome.reason, taskId: batch[i]?.task.id }, "cannot record a polled status");
        }
      });
    } catch (error) {
      failures += batch.length;
      context.logger.warn({ err: error, handles: batch.length }, "cannot poll the backend");
    }
  }
  if (failures > 0 && failures === records.length) {
    throw new Error(`no status of the ${records.length} polled attempts could be recorded`);
  }
  return records.length;
}

async function applyStatus(context: WorkerContext, known: TaskRecord, status: AttemptStatus): Promise<void> {
  const now = new Date();
  const handle = known.backendHandle;
  const decided = await updateTask<FollowStep | undefined>(
    context,
    known.task.id,
    (record) => {
      // Another worker moved it on (a cancel, an earlier poll of a retried attempt): not ours to change.
      if (record.backendHandle !== handle) return { effect: undefined };
      const step = followAttempt(record.task, status, { preemptionRetries: context.config.preemptionRetries, now });
      if (step === undefined) return { effect: undefined };
      return { change: step.resubmit ? { task: step.task, backendHandle: "" } : { task: step.task }, effect: step };
    },
    known,
  );
  const step = decided?.effect;
  if (step === undefined) return;
  // Written just now by this compare-and-set (an ended attempt moves its task to a final state, and
  // final tasks are not followed), so each attempt's input bytes count once. They are recorded here
  // and not with the output bytes in update-task.ts because the task's logs have no place for them.
  if (status.phase === "ended" && status.result.inputBytes !== undefined && status.result.inputBytes > 0n) {
    instruments().inputBytes.add(Number(status.result.inputBytes), { state: State[step.task.state]! });
  }
  if (step.attemptOver) await context.backend.release([handle]);
  if (step.resubmit) await context.queue.enqueueSubmit(known.task.id);
}
