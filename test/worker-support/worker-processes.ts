import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPTED_WORKER = fileURLToPath(new URL("./worker-process.ts", import.meta.url));
const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/**
 * "scripted": a worker with the scripted backend (worker-process.ts), ready when it prints "ready".
 * "cli": the real `tes worker` (src/cli.ts), the backend TES_BACKEND names, ready when it logs that
 * the pool started.
 */
export type WorkerKind = "scripted" | "cli";

/** A worker running in its own OS process, as in production. */
export class WorkerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly output: { text: string },
  ) {}

  static async start(env: Record<string, string>, kind: WorkerKind = "scripted", timeoutMs = 20_000): Promise<WorkerProcess> {
    const args = kind === "cli" ? ["--import", "tsx", CLI, "worker"] : ["--import", "tsx", SCRIPTED_WORKER];
    const ready = kind === "cli" ? '"msg":"worker pool started"' : "ready\n";
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = { text: "" };
    const collect = (chunk: Buffer): void => {
      output.text = (output.text + chunk.toString("utf8")).slice(-20_000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready in ${timeoutMs} ms:\n${output.text}`)), timeoutMs);
      const check = (): void => {
        if (output.text.includes(ready)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", check);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${output.text}`));
      });
    });
    return new WorkerProcess(child, output);
  }

  /** kill -9: no chance to finish a job, release a lock or close a connection. */
  async kill(): Promise<void> {
    await this.stop("SIGKILL");
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
