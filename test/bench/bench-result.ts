/** What each test/bench/*.bench.ts module's `bench` function returns. */
export interface BenchResult {
  /** Measured values by name, e.g. "rest.getTask.rps". */
  readonly figures: Readonly<Record<string, Figure>>;
  /** Ratios of two figures, with the target they should reach. */
  readonly ratios: Readonly<Record<string, Ratio>>;
}

export interface Figure {
  readonly value: number;
  /** "req/s", "ms", ... */
  readonly unit: string;
}

export interface Ratio {
  readonly value: number;
  /** The figure names: value = figures[of[0]] / figures[of[1]]. */
  readonly of: readonly [string, string];
  /** The least acceptable value, if any. */
  readonly target?: number;
}

export interface BenchOptions {
  /** Seconds per measurement (BENCH_DURATION_S, default 5). */
  readonly durationSeconds: number;
  /** Progress lines go here, not to stdout's table. */
  readonly log: (line: string) => void;
}

export type BenchFunction = (options: BenchOptions) => Promise<BenchResult>;
