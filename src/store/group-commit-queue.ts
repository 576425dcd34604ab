import type { Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { TurnBatch } from "./turn-batch.js";

/** Inserts that arrive in the same event-loop turn share one commit, up to this many. */
export const DEFAULT_INSERT_BATCH_MAX = 256;

/** A task waiting for its group commit; the store settles its insert() through resolve or reject. */
export interface PendingInsert<Document> {
  task: Task;
  owner: string;
  traceContext: string;
  /** The encoded task, as the store's driver binds it. */
  document: Document;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Where inserts wait for their group commit: those that arrive in the same event-loop turn
 * (concurrent CreateTasks) are handed to the store together at the end of the turn, so they can
 * share one commit, which is most of an insert's cost. How they are written, at most batchMax
 * together, and how a task at fault fails alone, is each store's own.
 */
export class GroupCommitQueue<Document> {
  /** The most inserts the store writes together (insertBatchMax). */
  readonly batchMax: number;
  private readonly turn: TurnBatch<PendingInsert<Document>>;

  /** `commit` gets one turn's inserts in the order they came, and must settle every one of them. */
  constructor(insertBatchMax: number | undefined, commit: (pending: PendingInsert<Document>[]) => void) {
    this.turn = new TurnBatch(commit);
    this.batchMax = insertBatchMax ?? DEFAULT_INSERT_BATCH_MAX;
    if (!Number.isInteger(this.batchMax) || this.batchMax < 1) {
      throw new Error(`insertBatchMax must be a positive integer, got ${this.batchMax}`);
    }
  }

  /** Settles only after the commit that holds the task, so a resolved insert is stored. */
  add(task: Task, owner: string, traceContext: string, document: Document): Promise<void> {
    return new Promise<void>((resolve, reject) => this.turn.add({ task, owner, traceContext, document, resolve, reject }));
  }

  /** Hands what waits to the store now, not at the end of the turn (close: accepted inserts are written, not dropped). */
  flush(): void {
    this.turn.flush();
  }
}
