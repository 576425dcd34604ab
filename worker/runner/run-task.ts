import fs from "node:fs/promises";
import path from "node:path";
import type { Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { AttemptResult, ExecutorResult } from "../backends/compute-backend.js";
import { runExecutor } from "./executor-process.js";
import { ImagePullError, RuntimeUnavailableError, type ContainerRuntime, type SandboxHolders } from "./runtimes/container-runtime.js";
import { downloadInputs, uploadOutputs, type TaskTransferOptions } from "./task-transfers.js";
import { planMounts, type Mount } from "./task-mounts.js";

export type RunnerProgress =
  | { phase: "initializing" }
  /**
   * Reported when an executor's process has started: those ended so far, `current`, running, and
   * the host pids that hold it (to stop it from another process if this one dies).
   */
  | { phase: "running"; executors: ExecutorResult[]; current: number; pids: number[] };

export interface RunTaskOptions {
  /** The attempt's work directory; `${workDir}/root` stands for the container root. */
  workDir: string;
  /** Names containers and sandbox groups: [A-Za-z0-9_.-]. */
  attemptId: string;
  /** The runtime, or the reason there is none (then the attempt is a system error). */
  runtime: () => Promise<ContainerRuntime>;
  tailBytes: number;
  /** filetransfer's settings (allowed directories for file://, retries, ...); its env defaults otherwise. */
  transfers?: TaskTransferOptions;
  signal?: AbortSignal;
  onProgress?: (progress: RunnerProgress) => void;
  /** Awaited before each executor's processes exist, with what will hold them (see ContainerSpec). */
  onSandbox?: (holders: SandboxHolders) => Promise<void>;
  /**
   * Signs the container client in to private registries (registry-login/): awaited before the
   * images are pulled, and again before each executor starts (should its image have to be pulled
   * again then). A throw ends the attempt as a system error with its message: no executor runs.
   */
  signInToRegistries?: (runtime: ContainerRuntime, signal: AbortSignal) => Promise<void>;
}

/**
 * The node-side sequence of one attempt: download the inputs, run the executors in order, upload the
 * outputs, and answer with the result document. It never throws for anything the task or its
 * storage did wrong: those end as executor_error or system_error with a reason in systemLogs.
 *
 * Outputs are uploaded only when every executor succeeded (or its error was ignored): COMPLETE means
 * the outputs are where they should be, and a failed task leaves its files in the work directory.
 */
export async function runTask(task: Task, options: RunTaskOptions): Promise<AttemptResult> {
  const signal = options.signal ?? new AbortController().signal;
  const startTime = new Date().toISOString();
  const executors: ExecutorResult[] = [];
  const systemLogs: string[] = [];
  // Set once the downloads have run, so every result from then on reports them.
  let inputBytes: bigint | undefined;
  const end = (outcome: AttemptResult["outcome"], extra: Partial<AttemptResult> = {}): AttemptResult => ({
    outcome,
    startTime,
    endTime: new Date().toISOString(),
    executors,
    outputs: [],
    ...(inputBytes === undefined ? {} : { inputBytes }),
    systemLogs,
    ...extra,
  });
  const canceled = () => {
    systemLogs.push("canceled");
    return end("canceled");
  };

  options.onProgress?.({ phase: "initializing" });
  let runtime: ContainerRuntime;
  try {
    runtime = await options.runtime();
  } catch (error) {
    systemLogs.push(error instanceof RuntimeUnavailableError ? error.message : `no container runtime: ${(error as Error).message}`);
    return end("system_error");
  }
  const images = task.executors.map((executor) => executor.image);
  systemLogs.push(...runtime.notes(images));

  // Every image first, before the downloads and any executor: an image that cannot be had ends the
  // attempt as the system's error at once, and no executor runs when a later one's image is missing.
  try {
    await options.signInToRegistries?.(runtime, signal);
  } catch (error) {
    if (signal.aborted) return canceled();
    systemLogs.push(`signing in to the registries to pull the executors' images failed: ${(error as Error).message}`);
    return end("system_error");
  }
  try {
    await runtime.ensureImages(images, signal);
  } catch (error) {
    if (signal.aborted) return canceled();
    systemLogs.push(error instanceof ImagePullError ? error.message : `pulling the executors' images failed: ${(error as Error).message}`);
    return end("system_error");
  }

  const root = path.join(options.workDir, "root");
  let mounts: Mount[];
  try {
    await fs.mkdir(root, { recursive: true });
    mounts = planMounts(task, root);
  } catch (error) {
    systemLogs.push(`the task's paths cannot be laid out: ${(error as Error).message}`);
    return end("system_error");
  }

  const downloaded = await downloadInputs(task, root, options.transfers ?? {}, signal);
  inputBytes = downloaded.bytes;
  if (signal.aborted) return canceled();
  if (!downloaded.ok) {
    systemLogs.push(...downloaded.systemLogs);
    if (downloaded.systemLogs.length === 0) systemLogs.push("downloading the inputs failed");
    return end("system_error");
  }
  try {
    await prepareMountPoints(mounts);
    await runtime.prepareRoot(root);
  } catch (error) {
    systemLogs.push(`the task's paths cannot be created: ${(error as Error).message}`);
    return end("system_error");
  }

  const resources = task.resources;
  const safeId = options.attemptId.replace(/[^A-Za-z0-9_.-]/g, "_");
  for (const [index, executor] of task.executors.entries()) {
    const ended = [...executors];
    if (options.signInToRegistries !== undefined) {
      try {
        await options.signInToRegistries(runtime, signal);
      } catch (error) {
        if (signal.aborted) return canceled();
        systemLogs.push(`signing in to the registries for executor ${index} failed: ${(error as Error).message}`);
        return end("system_error");
      }
    }
    const outcome = await runExecutor(
      runtime,
      {
        name: `tes-${safeId}-${index}`,
        image: executor.image,
        command: executor.command,
        workdir: executor.workdir,
        env: { ...executor.env },
        mounts,
        root,
        stdin: executor.stdin !== "",
        cpuCores: resources !== undefined && resources.cpuCores > 0 ? resources.cpuCores : undefined,
        ramBytes: resources !== undefined && resources.ramGb > 0 ? Math.ceil(resources.ramGb * 2 ** 30) : undefined,
        ...(options.onSandbox === undefined ? {} : { beforeSpawn: options.onSandbox }),
      },
      {
        root,
        ...(executor.stdin === "" ? {} : { stdin: executor.stdin }),
        ...(executor.stdout === "" ? {} : { stdout: executor.stdout }),
        ...(executor.stderr === "" ? {} : { stderr: executor.stderr }),
        tailBytes: options.tailBytes,
        onStarted: (pids) => options.onProgress?.({ phase: "running", executors: ended, current: index, pids }),
      },
      signal,
    );
    for (const note of outcome.notes) if (!systemLogs.includes(note)) systemLogs.push(note);
    if (outcome.canceled || signal.aborted) {
      executors.push(outcome.result);
      return canceled();
    }
    executors.push(outcome.result);
    if (outcome.result.exitCode !== 0 && !executor.ignoreError) {
      const oom = outcome.result.exitCode === 137 && resources !== undefined && resources.ramGb > 0;
      systemLogs.push(
        `executor ${index} exited with code ${outcome.result.exitCode}` +
          (oom ? ` (killed; exceeding its memory limit of ${resources.ramGb} GB ends an executor this way)` : "") +
          "; the executors after it did not run",
      );
      return end("executor_error");
    }
  }

  const uploaded = await uploadOutputs(task, root, options.transfers ?? {}, signal);
  if (signal.aborted) return canceled();
  systemLogs.push(...uploaded.systemLogs);
  if (!uploaded.ok) {
    if (uploaded.systemLogs.length === 0) systemLogs.push("uploading the outputs failed");
    return end("system_error", { outputs: uploaded.outputs });
  }
  return end("complete", { outputs: uploaded.outputs });
}

/**
 * Directories to mount exist; a file mounted alone exists (empty) so a bind has something to bind.
 * Whatever a download put there already (an untyped input that was a directory) is left as it is.
 */
async function prepareMountPoints(mounts: readonly Mount[]): Promise<void> {
  for (const mount of mounts) {
    if (await fs.lstat(mount.hostPath).then(() => true, () => false)) continue;
    if (mount.kind === "directory") {
      await fs.mkdir(mount.hostPath, { recursive: true });
    } else {
      await fs.mkdir(path.dirname(mount.hostPath), { recursive: true });
      await (await fs.open(mount.hostPath, "a")).close();
    }
  }
}
