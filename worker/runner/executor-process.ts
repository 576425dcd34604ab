import { once } from "node:events";
import type { WriteStream } from "node:fs";
import { constants as osConstants } from "node:os";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { ExecutorResult } from "../backends/compute-backend.js";
import { OutputTail } from "./output-tail.js";
import { openTaskFileForReading, openTaskFileForWriting, UnsafeTaskPathError } from "./root-files.js";
import { hostPathOf } from "./task-mounts.js";
import type { ContainerRuntime, ContainerSpec, StartedContainer } from "./runtimes/container-runtime.js";

export interface ExecutorIo {
  /** The host directory standing for the container root. */
  root: string;
  /** Container paths of the executor's stdin, stdout and stderr files, when it names them. */
  stdin?: string;
  stdout?: string;
  stderr?: string;
  tailBytes: number;
  /**
   * Called once the executor's process exists (for the RUNNING state: an executor has started),
   * with the host pids that hold it (see StartedContainer.pids).
   */
  onStarted?: (pids: number[]) => void;
}

export interface ExecutorOutcome {
  result: ExecutorResult;
  /** The runtime's lines for system_logs. */
  notes: string[];
  /** True when `signal` stopped it. */
  canceled: boolean;
}

/** Exit code for an executor that could not be started at all (as a shell reports it). */
const cannotStart = 127;

/**
 * Runs one executor to its end: feeds stdin from its file, writes stdout and stderr to their files
 * and keeps bounded tails of both, and stops the whole container when `signal` aborts.
 */
export async function runExecutor(
  runtime: ContainerRuntime,
  spec: ContainerSpec,
  io: ExecutorIo,
  signal: AbortSignal,
): Promise<ExecutorOutcome> {
  const startTime = new Date().toISOString();
  const stdoutTail = new OutputTail(io.tailBytes);
  const stderrTail = new OutputTail(io.tailBytes);
  const failToStart = (reason: string): ExecutorOutcome => ({
    result: { exitCode: cannotStart, startTime, endTime: new Date().toISOString(), stdout: "", stderr: reason },
    canceled: false,
    notes: [],
  });
  if (signal.aborted) {
    return { result: { exitCode: cannotStart, startTime, endTime: startTime }, canceled: true, notes: [] };
  }

  let stdin: Readable | undefined;
  const sinks: WriteStream[] = [];
  let stdoutFile: WriteStream | undefined;
  let stderrFile: WriteStream | undefined;
  try {
    if (io.stdin !== undefined) {
      stdin = (await openTaskFileForReading(io.root, io.stdin).catch((error: NodeJS.ErrnoException) => {
        throw error.code === "ENOENT" ? new UnsafeTaskPathError(`${io.stdin} does not exist in the task's files`) : error;
      })).createReadStream();
    }
    const openSink = async (containerPath: string | undefined) => {
      if (containerPath === undefined) return undefined;
      const sink = (await openTaskFileForWriting(io.root, containerPath)).createWriteStream();
      sinks.push(sink);
      // Later executors may append to it, as the container's user.
      await runtime.prepareRoot(hostPathOf(io.root, containerPath));
      return sink;
    };
    stdoutFile = await openSink(io.stdout);
    stderrFile = await openSink(io.stderr);
  } catch (error) {
    stdin?.destroy();
    for (const sink of sinks) sink.destroy();
    return failToStart(`the executor's stdin, stdout or stderr file cannot be opened: ${(error as Error).message}\n`);
  }

  let canceled = false;
  let started: StartedContainer;
  try {
    started = await runtime.start({ ...spec, stdin: stdin !== undefined });
  } catch (error) {
    stdin?.destroy();
    await Promise.all(sinks.map((sink) => new Promise((resolve) => sink.end(resolve))));
    return failToStart(`${runtime.name} could not start the executor: ${(error as Error).message}\n`);
  }
  const child = started.process;
  const reportStarted = (pids: number[]) => {
    if (!canceled) io.onStarted?.(pids);
  };
  // The pids come from the sandbox once it is set up; the start is reported with whatever is known
  // by then, or by the time the executor ends.
  const startReported = started.pids.then(reportStarted, () => reportStarted([]));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const closed = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;

  if (stdin !== undefined && child.stdin !== null) {
    // An executor that exits without reading all of stdin is not an error.
    child.stdin.on("error", () => undefined);
    stdin.on("error", () => child.stdin?.end());
    stdin.pipe(child.stdin);
  }
  const collect = (stream: Readable | null, tail: OutputTail, file: WriteStream | undefined) => {
    stream?.on("data", (chunk: Buffer) => {
      tail.push(chunk);
      file?.write(chunk);
    });
  };
  collect(child.stdout, stdoutTail, stdoutFile);
  collect(child.stderr, stderrTail, stderrFile);

  const onAbort = () => {
    canceled = true;
    void started.kill();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  // A cancel that came while the container was being started fired before anyone listened.
  if (signal.aborted) onAbort();
  const ended = await Promise.race([
    closed.then(([code, exitSignal]) => ({ code, exitSignal, error: undefined })),
    spawnError.then((error) => ({ code: null, exitSignal: null, error })),
  ]);
  signal.removeEventListener("abort", onAbort);
  // Never report a start after the end: the progress of the next executor would come out of order.
  await startReported;
  for (const sink of sinks) sink.end();
  await Promise.all(sinks.map((sink) => finished(sink).catch(() => undefined)));
  await started.cleanup().catch(() => undefined);

  if (ended.error !== undefined) {
    return failToStart(`${runtime.name} could not start the executor: ${ended.error.message}\n`);
  }
  const exitCode =
    ended.code ?? 128 + (ended.exitSignal === null ? 0 : (osConstants.signals[ended.exitSignal] ?? 0));
  return {
    result: {
      exitCode,
      startTime,
      endTime: new Date().toISOString(),
      stdout: stdoutTail.text(),
      stderr: stderrTail.text(),
    },
    canceled,
    notes: started.notes,
  };
}
