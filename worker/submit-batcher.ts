import { context, ROOT_CONTEXT, trace, TraceFlags, type Context } from "@opentelemetry/api";
import { bulkCall } from "../src/telemetry/task-trace.js";
import type { Attempt, ComputeBackend, SubmitOutcome } from "./backends/compute-backend.js";

/**
 * Coalesces the submissions of concurrent submit jobs into few backend calls (Batch takes up to 100
 * tasks per call): a submission waits up to `waitMs` for others, and a full batch goes at once.
 * The same attempt asked for twice in one batch is sent once and both callers get its outcome.
 *
 * Traced: a call for one task is a span in that task's trace (its submit job's child); a call for
 * many is a trace of its own, linked to each task's submit job span, each of which links back.
 */
export class SubmitBatcher {
  private pending = new Map<string, { attempt: Attempt; waiters: Array<Waiter> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: ComputeBackend,
    private readonly maxBatch: number,
    private readonly waitMs: number,
  ) {}

  submit(attempt: Attempt): Promise<SubmitOutcome> {
    return new Promise<SubmitOutcome>((resolve, reject) => {
      const entry = this.pending.get(attempt.attemptId);
      const waiter = { resolve, reject, context: context.active() };
      if (entry !== undefined) entry.waiters.push(waiter);
      else this.pending.set(attempt.attemptId, { attempt, waiters: [waiter] });
      if (this.pending.size >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.waitMs);
    });
  }

  private send(batch: ReadonlyArray<{ attempt: Attempt; waiters: Waiter[] }>): Promise<SubmitOutcome[]> {
    const attempts = batch.map((entry) => entry.attempt);
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) return context.with(only.waiters[0]!.context, () => this.backend.submit(attempts));
    const waiters = batch.flatMap((entry) => entry.waiters);
    return bulkCall(
      waiters.map((waiter) => trace.getSpanContext(waiter.context)),
      async (bulk) => {
        try {
          return await this.backend.submit(attempts);
        } finally {
          // Each task's submit job span links to the call that carried its attempt.
          const started = bulk.started;
          if (started !== undefined && (started.traceFlags & TraceFlags.SAMPLED) !== 0) for (const waiter of waiters) trace.getSpan(waiter.context)?.addLink({ context: started });
        }
      },
      ROOT_CONTEXT,
    );
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length === 0) return;
    this.send(batch).then(
      (outcomes) => {
        batch.forEach((entry, i) => {
          const outcome = outcomes[i];
          for (const waiter of entry.waiters) {
            if (outcome === undefined) waiter.reject(new Error(`the backend answered ${outcomes.length} of ${batch.length} submissions`));
            else waiter.resolve(outcome);
          }
        });
      },
      (error: unknown) => {
        for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
      },
    );
  }
}

interface Waiter {
  resolve(outcome: SubmitOutcome): void;
  reject(error: unknown): void;
  /** The submitter's context (its submit job's span, in the task's trace). */
  context: Context;
}
