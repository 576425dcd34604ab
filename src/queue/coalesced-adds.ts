import type { JobsOptions, Queue } from "bullmq";

/** One job as Queue.addBulk takes it. */
export interface BulkJob<Data> {
  name: string;
  data: Data;
  opts: JobsOptions;
}

interface PendingAdd<Data> {
  job: BulkJob<Data>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Adds that arrive in the same event-loop turn go to Redis in one addBulk, up to this many. */
export const DEFAULT_ADD_BATCH_MAX = 256;

/**
 * Coalesces single adds into one Queue.addBulk per event-loop turn: concurrent CreateTasks share
 * one Redis round trip (one MULTI) instead of one each. Each add settles when its batch does: it
 * resolves once Redis took the batch, and rejects when the batch failed (BullMQ sends a batch as
 * one MULTI, so its jobs are taken or refused together); callers keep the semantics of a single add.
 */
export class CoalescedAdds<Data> {
  private pending: Array<PendingAdd<Data>> = [];
  /** Batches sent and not yet settled, which drain waits for. */
  private readonly sending = new Set<Promise<unknown>>();

  constructor(
    private readonly queue: Queue<Data>,
    /** Sends one batch; the caller's timeout wraps it. */
    private readonly send: (adding: Promise<unknown>) => Promise<unknown>,
    private readonly batchMax: number = DEFAULT_ADD_BATCH_MAX,
  ) {
    if (!Number.isInteger(batchMax) || batchMax < 1) throw new Error(`the add batch size must be a positive integer, got ${batchMax}`);
  }

  add(job: BulkJob<Data>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Sends what waits now and settles every batch on its way: before the queue closes. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.sending]);
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = [];
    for (let at = 0; at < pending.length; at += this.batchMax) {
      const batch = pending.slice(at, at + this.batchMax);
      // addBulk's parameter type is BullMQ's own generic shape; the jobs here are exactly that.
      const adding = this.queue.addBulk(batch.map((item) => item.job) as Parameters<Queue<Data>["addBulk"]>[0]);
      const sent = this.send(adding).then(
        () => {
          for (const item of batch) item.resolve();
        },
        (error: unknown) => {
          for (const item of batch) item.reject(error);
        },
      );
      this.sending.add(sent);
      void sent.finally(() => this.sending.delete(sent));
    }
  }
}
