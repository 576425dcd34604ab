/**
 * What the A/B benches (auth.bench.ts, tracing.bench.ts) share: servers in child processes whose
 * CPU time is read from /proc, measurements that alternate A/B then B/A round after round so drift
 * on a shared box hits both alike, and ratios taken as the median of the rounds' own ratios.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Figure, Ratio } from "../bench-result.js";

export interface BenchServer<T> {
  readonly child: ChildProcess;
  /** The JSON line the server printed once it listened ({port, ...}). */
  readonly info: T;
}

/**
 * Runs `script` (TypeScript, through tsx) with `env` added to this process's, and waits for the one
 * JSON line it prints when it is ready. The server stops on SIGTERM or when its stdin closes.
 */
export async function startBenchServer<T>(script: string, env: Record<string, string>): Promise<BenchServer<T>> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, LOG_LEVEL: "silent", ...env },
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    lines.close();
    return { child, info: JSON.parse(line) as T };
  }
  throw new Error(`the bench server ${script} exited before it was ready`);
}

export async function stopBenchServer(child: ChildProcess): Promise<void> {
  child.stdin?.end();
  child.kill("SIGTERM");
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}

/** User plus system CPU seconds the process has used (Linux /proc; the ticks are 1/100 s). */
export function cpuSeconds(child: ChildProcess): number {
  const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The order of round `round`: A, B (, C) then (C,) B, A, and so on. */
export function alternate<T>(round: number, modes: readonly T[]): readonly T[] {
  return round % 2 === 0 ? modes : [...modes].reverse();
}

/** One value per round for each named measurement. */
export class RoundSamples {
  private readonly samples = new Map<string, number[]>();

  add(name: string, value: number): void {
    this.samples.set(name, [...(this.samples.get(name) ?? []), value]);
  }

  /** Each measurement's mean over the rounds, rounded for reading, with the unit its name implies. */
  figures(): Record<string, Figure> {
    const figures: Record<string, Figure> = {};
    for (const [name, values] of this.samples) {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const unit = name.endsWith(".rps") ? "req/s" : name.endsWith("CpuPerCall") ? "µs" : "ms";
      figures[name] = { value: unit === "req/s" ? Math.round(mean) : Math.round(mean * 10) / 10, unit };
    }
    return figures;
  }

  /**
   * top/bottom, the median of the rounds' own ratios (each round measures both back to back), which
   * shrugs off a round that other work on the box disturbed.
   */
  ratio(top: string, bottom: string, target?: number): Ratio {
    const tops = this.samples.get(top) ?? [];
    const bottoms = this.samples.get(bottom) ?? [];
    const perRound = tops.map((value, i) => value / (bottoms[i] ?? Number.NaN)).sort((x, y) => x - y);
    const middle = perRound.length / 2;
    const median =
      perRound.length % 2 === 1 ? perRound[Math.floor(middle)]! : ((perRound[middle - 1] ?? Number.NaN) + (perRound[middle] ?? Number.NaN)) / 2;
    return { value: Math.round(median * 1000) / 1000, of: [top, bottom], ...(target === undefined ? {} : { target }) };
  }
}
