import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/** A real `tes <command>` child process (src/cli.ts), its output kept for assertions. */
export class TesProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly output: { text: string },
    readonly port: number | undefined,
  ) {}

  /** Starts `tes serve|server|worker` and waits for it to listen (API roles) or to take jobs (worker). */
  static async start(command: "serve" | "server" | "worker", env: Record<string, string>, timeoutMs = 30_000): Promise<TesProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, command], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = { text: "" };
    const collect = (chunk: Buffer): void => {
      output.text += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const readyLine = command === "worker" ? /"msg":"worker pool started"/ : /"port":(\d+)[^\n]*"msg":"TES API listening"/;
    const port = await new Promise<number | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tes ${command} not ready in ${timeoutMs} ms:\n${output.text}`)), timeoutMs);
      const check = (): void => {
        const match = readyLine.exec(output.text);
        if (match === null) return;
        clearTimeout(timer);
        child.stdout?.off("data", check);
        resolve(match[1] === undefined ? undefined : Number(match[1]));
      };
      child.stdout?.on("data", check);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`tes ${command} exited (${code ?? signal}) before it was ready:\n${output.text}`));
      });
    });
    return new TesProcess(child, output, port);
  }

  get baseUrl(): string {
    if (this.port === undefined) throw new Error("this process serves no API");
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** Sends `signal`, waits for the exit (SIGKILL after `killAfterMs`), answers the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM", killAfterMs = 30_000): Promise<number | null> {
    const exited = this.exited();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), killAfterMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
