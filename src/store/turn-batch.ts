/**
 * Items that arrive in one event-loop turn, handed over together at its end (setImmediate): how
 * the stores group the inserts of concurrent CreateTasks into one commit and the reads of
 * concurrent GetTasks into one transaction or statement. `flush` hands over what waits at once
 * (close: what was asked for is done, not dropped).
 */
export class TurnBatch<Item> {
  private pending: Item[] = [];

  /** `handOver` gets one turn's items in the order they came, and must settle every one. */
  constructor(private readonly handOver: (items: Item[]) => void) {}

  add(item: Item): void {
    this.pending.push(item);
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.handOver(items);
  }
}
