interface PendingAdd<Item> {
  item: Item;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces single adds into one Redis call: the adds of `windowMs` after a batch's first (and of
 * that turn) share one round trip (and one BullMQ job, for submissions) instead of one each; a batch
 * that reaches `batchMax` items goes at once. `sendBatch` sends them in one call that Redis takes or
 * refuses whole (one MULTI, or one job). Each add settles when its batch does: it resolves once
 * Redis took the batch and rejects when the batch failed, so callers keep the semantics of a single
 * add.
 */
export class CoalescedAdds<Item> {
  private pending: Array<PendingAdd<Item>> = [];
  /** The flush at the end of the pending batch's window, while one waits. */
  private timer: NodeJS.Timeout | undefined;
  /** Batches sent and not yet settled, which drain waits for. */
  private readonly sending = new Set<Promise<unknown>>();

  constructor(
    private readonly sendBatch: (items: Item[]) => Promise<unknown>,
    private readonly batchMax: number,
    private readonly windowMs: number,
  ) {
    if (!Number.isInteger(batchMax) || batchMax < 1) throw new Error(`the add batch size must be a positive integer, got ${batchMax}`);
    if (!Number.isFinite(windowMs) || windowMs < 0) throw new Error(`the add window must be a number of milliseconds, got ${windowMs}`);
  }

  add(item: Item): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.batchMax) this.flush();
      else if (this.pending.length === 1) this.timer = setTimeout(() => this.flush(), this.windowMs);
    });
  }

  /** Sends what waits now and settles every batch on its way: before the queue closes. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.sending]);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const pending = this.pending;
    this.pending = [];
    for (let at = 0; at < pending.length; at += this.batchMax) {
      const batch = pending.slice(at, at + this.batchMax);
      const sent = this.sendBatch(batch.map((entry) => entry.item)).then(
        () => {
          for (const entry of batch) entry.resolve();
        },
        (error: unknown) => {
          for (const entry of batch) entry.reject(error);
        },
      );
      this.sending.add(sent);
      void sent.finally(() => this.sending.delete(sent));
    }
  }
}
