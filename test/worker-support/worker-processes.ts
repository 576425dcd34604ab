import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./worker-process.ts", import.meta.url));

/** A worker running in its own OS process, as in production. */
export class WorkerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly output: { text: string },
  ) {}

  static async start(env: Record<string, string>, timeoutMs = 20_000): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
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
        if (output.text.includes("ready\n")) {
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
