import type { Attempt, ComputeBackend, SubmitOutcome } from "./backends/compute-backend.js";

/**
 * Coalesces the submissions of concurrent submit jobs into few backend calls (Batch takes up to 100
 * tasks per call): a submission waits up to `waitMs` for others, and a full batch goes at once.
 * The same attempt asked for twice in one batch is sent once and both callers get its outcome.
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
      if (entry !== undefined) entry.waiters.push({ resolve, reject });
      else this.pending.set(attempt.attemptId, { attempt, waiters: [{ resolve, reject }] });
      if (this.pending.size >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.waitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length === 0) return;
    this.backend.submit(batch.map((entry) => entry.attempt)).then(
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
}
