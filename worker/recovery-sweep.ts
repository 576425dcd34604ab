import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { WorkerContext } from "./worker-context.js";

export interface SweepResult {
  submits: number;
  cancels: number;
}

/**
 * The recovery sweep, run by the job scheduler: the store is the truth, so any QUEUED task without
 * a backend handle, or CANCELING task, unchanged for WORKER_STALE_AFTER_MS has lost its job (Redis
 * lost it, the API died before enqueueing, a worker died, a blocked submission waits for a retry)
 * and is enqueued again. A task whose job still waits is not doubled: job ids are task ids.
 */
export async function runRecoverySweep(context: WorkerContext): Promise<SweepResult> {
  const { store, config } = context;
  const before = new Date(Date.now() - config.staleAfterMs);
  const queued = await store.findStale([State.QUEUED], before, config.sweepBatchSize);
  const submitting = queued.filter((record) => record.backendHandle === "");
  const canceling = await store.findStale([State.CANCELING], before, config.sweepBatchSize);
  // Each job carries its task's stored trace context: a recovered job joins the task's own trace.
  await context.queue.enqueueSubmitMany(submitting.map((r) => r.task.id), submitting.map((r) => r.traceContext));
  await context.queue.enqueueCancelMany(canceling.map((r) => r.task.id), canceling.map((r) => r.traceContext));
  const submits = submitting.length;
  const cancels = canceling.length;
  if (submits + cancels > 0) {
    context.logger.info({ submits, cancels }, "recovery sweep re-enqueued tasks");
  }
  return { submits, cancels };
}
