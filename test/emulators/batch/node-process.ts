import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { splitCommandLine } from "./command-line.js";

/**
 * Runs one Batch task's (or start task's) command line as a local process, the way a node agent
 * does: resource files first, then the command line without a shell, in the working directory,
 * with stdout.txt and stderr.txt in the task directory.
 */
export interface ProcessSpec {
  commandLine: string;
  /** The task directory: stdout.txt and stderr.txt go here, the working directory is `wd`. */
  taskDir: string;
  workingDir: string;
  env: Record<string, string>;
  resourceFiles: readonly { httpUrl: string; filePath: string }[];
  /** Kill the process after this long (maxWallClockTime). */
  maxWallClockMs: number;
  /** Rewrites argv before spawning (for instance to run it in a sandbox). */
  wrapCommand?: (argv: string[]) => string[];
}

export type ProcessOutcome =
  | { kind: "exited"; exitCode: number }
  /** Resource file download failed: not retried, a userError with the blob's code (§4). */
  | { kind: "preprocessing-failed"; code: string; message: string }
  /** The command could not start (§4 CommandProgramNotFound / CommandLaunchFailed). */
  | { kind: "launch-failed"; code: string; message: string }
  | { kind: "timed-out"; exitCode: number }
  | { kind: "killed" };

export interface RunningProcess {
  readonly done: Promise<ProcessOutcome>;
  /** Stops the process group; `done` then resolves to "killed". */
  kill(): void;
}

async function downloadResourceFiles(spec: ProcessSpec): Promise<ProcessOutcome | undefined> {
  for (const file of spec.resourceFiles) {
    const target = resolve(spec.workingDir, file.filePath);
    if (!target.startsWith(spec.workingDir + sep)) {
      return { kind: "preprocessing-failed", code: "InvalidFilePath", message: `filePath '${file.filePath}' leaves the working directory` };
    }
    let response: Response;
    try {
      response = await fetch(file.httpUrl);
    } catch (err) {
      return { kind: "preprocessing-failed", code: "BlobDownloadMiscError", message: `download failed: ${(err as Error).message}` };
    }
    if (!response.ok) {
      // Codes from the service's table for resource file failures (§4).
      const code = response.status === 404 ? "BlobNotFound" : response.status === 403 ? "BlobAccessDenied" : "BlobDownloadMiscError";
      return { kind: "preprocessing-failed", code, message: `download of the resource file '${file.filePath}' failed with HTTP ${response.status}` };
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, Buffer.from(await response.arrayBuffer()));
  }
  return undefined;
}

export function startProcess(spec: ProcessSpec): RunningProcess {
  let killed = false;
  let timedOut = false;
  let child: ReturnType<typeof spawn> | undefined;
  const killGroup = () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  };
  const done = (async (): Promise<ProcessOutcome> => {
    await mkdir(spec.workingDir, { recursive: true });
    const stdoutPath = join(spec.taskDir, "stdout.txt");
    const stderrPath = join(spec.taskDir, "stderr.txt");
    await writeFile(stdoutPath, "");
    await writeFile(stderrPath, "");
    const failed = await downloadResourceFiles(spec);
    if (failed !== undefined) return failed;
    if (killed) return { kind: "killed" };
    let argv: string[];
    try {
      argv = splitCommandLine(spec.commandLine);
    } catch (err) {
      return { kind: "launch-failed", code: "CommandLaunchFailed", message: (err as Error).message };
    }
    if (spec.wrapCommand !== undefined) argv = spec.wrapCommand(argv);
    const [program, ...args] = argv;
    if (program === undefined) return { kind: "launch-failed", code: "CommandLaunchFailed", message: "the command line is empty" };
    const stdout = createWriteStream(stdoutPath, { flags: "a" });
    const stderr = createWriteStream(stderrPath, { flags: "a" });
    const outcome = await new Promise<ProcessOutcome>((resolveOutcome) => {
      const proc = spawn(program, args, { cwd: spec.workingDir, env: spec.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      child = proc;
      proc.stdout.pipe(stdout);
      proc.stderr.pipe(stderr);
      const timer =
        spec.maxWallClockMs < 2 ** 31
          ? setTimeout(() => {
              timedOut = true;
              killGroup();
            }, spec.maxWallClockMs)
          : undefined;
      proc.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const code = err.code === "ENOENT" ? "CommandProgramNotFound" : "CommandLaunchFailed";
        resolveOutcome({ kind: "launch-failed", code, message: `${program}: ${err.message}` });
      });
      proc.once("close", (exitCode, signal) => {
        clearTimeout(timer);
        if (killed) resolveOutcome({ kind: "killed" });
        else if (timedOut) resolveOutcome({ kind: "timed-out", exitCode: exitCode ?? 128 + 9 });
        else resolveOutcome({ kind: "exited", exitCode: exitCode ?? 128 + (signal === "SIGKILL" ? 9 : 15) });
      });
      if (killed) killGroup();
    });
    await Promise.all([new Promise((r) => stdout.end(r)), new Promise((r) => stderr.end(r))]);
    return outcome;
  })();
  return {
    done,
    kill() {
      killed = true;
      killGroup();
    },
  };
}
