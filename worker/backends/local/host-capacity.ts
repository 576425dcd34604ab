/**
 * The cores and memory of this host that attempts share. Attempts wait in submission order; the
 * first one waiting starts as soon as what it asked for is free, so a large task is not starved
 * by a stream of small ones.
 */
export interface Demand {
  cpuCores: number;
  ramGb: number;
}

export class HostCapacity<T> {
  private usedCpu = 0;
  private usedRam = 0;
  private readonly waiting: { item: T; demand: Demand }[] = [];

  constructor(
    readonly cpuCores: number,
    readonly ramGb: number,
    private readonly start: (item: T) => void,
  ) {}

  /** Why this demand can never fit this host, or undefined when it can. */
  refusal(demand: Demand): string | undefined {
    if (demand.cpuCores > this.cpuCores) {
      return `the task asks for ${demand.cpuCores} CPU cores; this host offers ${this.cpuCores} (TES_LOCAL_CPU_CORES)`;
    }
    if (demand.ramGb > this.ramGb) {
      return `the task asks for ${demand.ramGb} GB of RAM; this host offers ${this.ramGb} GB (TES_LOCAL_RAM_GB)`;
    }
    return undefined;
  }

  enqueue(item: T, demand: Demand): void {
    this.waiting.push({ item, demand });
    this.pump();
  }

  /** Takes an item out of the queue; true when it was still waiting. */
  withdraw(item: T): boolean {
    const index = this.waiting.findIndex((entry) => entry.item === item);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    this.pump();
    return true;
  }

  isWaiting(item: T): boolean {
    return this.waiting.some((entry) => entry.item === item);
  }

  /** Gives back what a started item held. */
  finished(demand: Demand): void {
    this.usedCpu -= demand.cpuCores;
    this.usedRam -= demand.ramGb;
    this.pump();
  }

  private pump(): void {
    for (;;) {
      const next = this.waiting[0];
      if (next === undefined) return;
      const fits =
        this.usedCpu + next.demand.cpuCores <= this.cpuCores + 1e-9 && this.usedRam + next.demand.ramGb <= this.ramGb + 1e-9;
      if (!fits) return;
      this.waiting.shift();
      this.usedCpu += next.demand.cpuCores;
      this.usedRam += next.demand.ramGb;
      this.start(next.item);
    }
  }
}
