import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import type { LocalBackendConfig } from "../../../src/config/local-backend.js";
import { TaskSchema, type Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { runTask, type RunnerProgress } from "../../runner/run-task.js";
import type { ContainerRuntime } from "../../runner/runtimes/container-runtime.js";
import { detectRuntime } from "../../runner/runtimes/detect-runtime.js";
import { killCgroups } from "../../runner/runtimes/resource-limits.js";
import type {
  Attempt,
  AttemptStatus,
  BackendCapabilities,
  ComputeBackend,
  SubmitOutcome,
} from "../compute-backend.js";
import { AttemptDirectory, type StatusRecord } from "./attempt-directory.js";
import { findDisallowedFileUrls } from "./file-url-policy.js";
import { HostCapacity, type Demand } from "./host-capacity.js";
import { localBackendCapabilities } from "./local-capabilities.js";
import { identityOf, isAlive, type ProcessIdentity } from "./process-identity.js";

export interface LocalBackendOptions {
  /** The container runtime; by default detected once, as TES_CONTAINER_RUNTIME says. */
  runtime?: () => Promise<ContainerRuntime>;
  /** How often this process looks for cancel requests made by other processes. */
  cancelCheckIntervalInMs?: number;
}

/** An attempt this process holds in its queue or runs. */
interface OwnedAttempt {
  attemptId: string;
  directory: AttemptDirectory;
  task: Task;
  demand: Demand;
  abort: AbortController;
  /** The runner's last word, while it runs. */
  progress?: RunnerProgress;
  /** The cgroups of the executor starting or running now. */
  cgroups: string[];
  /** True once its outcome is on disk (result or interrupted status). */
  ended: boolean;
  /** Set when this process stops the attempt for its own reasons (closing): no result is written. */
  interruptedBecause?: string;
  statusWrites: Promise<void>;
  done: Promise<void>;
  markDone: () => void;
}

/**
 * Runs attempts on this host, in the worker's own process, through the node-side runner.
 *
 * A handle is the attempt's work directory (an absolute path under TES_LOCAL_WORK_DIR): valid on
 * this host only. All state is on disk there (see AttemptDirectory), so a worker process that
 * starts later (or runs beside this one) can poll, cancel and release attempts this one started:
 *  - an attempt still queued in a process that died is adopted and run by the first process that
 *    polls it (one wins, by an exclusive claim file);
 *  - an attempt that was running in a process that died (its sandboxes died with it) is reported
 *    `preempted`, so the worker retries it as a new attempt;
 *  - a cancel for an attempt another live process runs is left as a request in `.cancel/`, which
 *    that process acts on within `cancelCheckIntervalInMs`.
 * Capacity (TES_LOCAL_CPU_CORES, TES_LOCAL_RAM_GB) is counted per worker process: a host running
 * several workers should divide it between them.
 */
export class LocalBackend implements ComputeBackend {
  readonly capabilities: BackendCapabilities;
  private readonly me: ProcessIdentity;
  private readonly owned = new Map<string, OwnedAttempt>();
  private readonly capacity: HostCapacity<OwnedAttempt>;
  private readonly runtime: () => Promise<ContainerRuntime>;
  private readonly cancelDir: string;
  private readonly cancelTimer: NodeJS.Timeout;
  private closing = false;

  constructor(
    private readonly config: LocalBackendConfig,
    options: LocalBackendOptions = {},
  ) {
    const me = identityOf(process.pid);
    if (me === undefined) throw new Error("the local backend needs /proc to tell live worker processes from dead ones");
    this.me = me;
    this.capabilities = localBackendCapabilities(config);
    this.capacity = new HostCapacity(config.cpuCores, config.ramGb, (attempt) => this.start(attempt));
    this.cancelDir = path.join(config.workDir, ".cancel");
    this.runtime = options.runtime ?? this.detectOnce();
    this.cancelTimer = setInterval(() => void this.takeCancelRequests(), options.cancelCheckIntervalInMs ?? 200);
    this.cancelTimer.unref();
  }

  async submit(attempts: readonly Attempt[]): Promise<SubmitOutcome[]> {
    if (this.closing) throw new Error("the local backend is closed");
    await fs.mkdir(this.cancelDir, { recursive: true });
    // A few at a time: each is a handful of file operations, and a batch may hold hundreds.
    const outcomes: SubmitOutcome[] = new Array(attempts.length);
    let next = 0;
    const lane = async () => {
      for (let index = next++; index < attempts.length; index = next++) {
        outcomes[index] = await this.submitOne(attempts[index] as Attempt);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, attempts.length) }, lane));
    return outcomes;
  }

  private async submitOne(attempt: Attempt): Promise<SubmitOutcome> {
    const directory = new AttemptDirectory(path.join(this.config.workDir, directoryName(attempt.attemptId)));
    if (directory.exists()) return { kind: "submitted", handle: directory.dir };
    const demand = this.demandOf(attempt.task);
    const refusal = this.capacity.refusal(demand);
    if (refusal !== undefined) return { kind: "rejected", reason: refusal };
    const disallowed = await findDisallowedFileUrls(attempt.task, this.config.allowedDirs);
    if (disallowed.length > 0) return { kind: "rejected", reason: disallowed.join("; ") };

    const created = await directory.create(
      {
        attemptId: attempt.attemptId,
        taskId: attempt.taskId,
        attempt: attempt.attempt,
        task: toJson(TaskSchema, attempt.task),
        cpuCores: demand.cpuCores,
        ramGb: demand.ramGb,
        submittedAt: new Date().toISOString(),
      },
      { phase: "queued", owner: this.me },
    );
    if (created) this.own(attempt.attemptId, directory, attempt.task, demand);
    return { kind: "submitted", handle: directory.dir };
  }

  async poll(handles: readonly string[]): Promise<AttemptStatus[]> {
    return Promise.all(handles.map((handle) => this.pollOne(handle)));
  }

  private async pollOne(handle: string): Promise<AttemptStatus> {
    const directory = this.directoryOf(handle);
    if (directory === undefined) return { phase: "unknown", reason: "not a local backend handle of this host" };
    // Attempts this process holds are answered from memory: no file read per handle per poll.
    const held = this.owned.get(directory.dir);
    if (held !== undefined && !held.ended) {
      if (this.capacity.isWaiting(held)) {
        return { phase: "queued", reason: `waiting for ${held.demand.cpuCores} CPU cores and ${held.demand.ramGb} GB of RAM on this host` };
      }
      return held.progress?.phase === "running"
        ? { phase: "running", executorLogs: held.progress.executors }
        : { phase: "initializing" };
    }
    let result;
    try {
      result = await directory.readResult();
    } catch (error) {
      return { phase: "unknown", reason: `the attempt's result document is unreadable: ${(error as Error).message}` };
    }
    if (result !== undefined) return { phase: "ended", result };
    if (!directory.exists()) return { phase: "unknown", reason: "no such attempt on this host (released, or never submitted)" };

    const status = await directory.readStatus();
    if (status === undefined) return { phase: "unknown", reason: "the attempt's status file is missing" };
    if (this.owned.has(directory.dir) || (status.owner !== undefined && isAlive(status.owner))) {
      return statusOf(status);
    }
    return this.takeOverOrphan(directory, status);
  }

  /** An attempt whose owner process is gone: adopt it if it never started, else report it interrupted. */
  private async takeOverOrphan(directory: AttemptDirectory, status: StatusRecord): Promise<AttemptStatus> {
    if (status.phase === "interrupted") return { phase: "preempted", reason: status.reason ?? "interrupted" };
    if (!(await directory.claimFrom(status))) {
      // Another process claimed it a moment ago; its status file says what it made of it.
      const now = await directory.readStatus();
      return now === undefined ? { phase: "queued" } : now.phase === "interrupted" ? { phase: "preempted", reason: now.reason ?? "interrupted" } : statusOf(now);
    }
    if (status.phase === "queued" && !this.closing) {
      const record = await directory.readAttempt();
      await directory.writeStatus({ phase: "queued", owner: this.me });
      const task = fromJson(TaskSchema, record.task as JsonValue);
      this.own(record.attemptId, directory, task, { cpuCores: record.cpuCores, ramGb: record.ramGb });
      return { phase: "queued", reason: "adopted from a worker process that stopped" };
    }
    const reason =
      status.owner === undefined
        ? "the attempt was left unfinished"
        : `the worker process (pid ${status.owner.pid}) running this attempt on this host stopped; its executors were stopped`;
    await stopLeftovers(status);
    await directory.writeStatus({ phase: "interrupted", reason });
    return { phase: "preempted", reason };
  }

  async cancel(handles: readonly string[]): Promise<void> {
    await Promise.all(handles.map((handle) => this.cancelOne(handle)));
  }

  private async cancelOne(handle: string): Promise<void> {
    const directory = this.directoryOf(handle);
    if (directory === undefined || !directory.exists()) return;
    const mine = this.owned.get(directory.dir);
    if (mine !== undefined) return this.cancelOwned(mine);
    if ((await directory.readResult().catch(() => undefined)) !== undefined) return;
    const status = await directory.readStatus();
    if (status?.owner !== undefined && isAlive(status.owner)) {
      // Another live process runs it: leave a request it acts on, and wait (briefly) for it to end.
      await fs.mkdir(this.cancelDir, { recursive: true });
      await fs.writeFile(path.join(this.cancelDir, path.basename(directory.dir)), "");
      for (let waited = 0; waited < 3000; waited += 50) {
        if ((await directory.readResult().catch(() => undefined)) !== undefined) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return;
    }
    if (await directory.claimFrom(status)) {
      if (status !== undefined) await stopLeftovers(status);
      await directory.writeResult({ outcome: "canceled", executors: [], outputs: [], systemLogs: ["canceled"] });
    }
  }

  private async cancelOwned(attempt: OwnedAttempt): Promise<void> {
    if (this.capacity.withdraw(attempt)) {
      const now = new Date().toISOString();
      await attempt.directory.writeResult({
        outcome: "canceled",
        startTime: now,
        endTime: now,
        executors: [],
        outputs: [],
        systemLogs: ["canceled before it started"],
      });
      this.owned.delete(attempt.directory.dir);
      attempt.markDone();
      return;
    }
    attempt.abort.abort();
    await attempt.done;
  }

  async release(handles: readonly string[]): Promise<void> {
    for (const handle of handles) {
      const directory = this.directoryOf(handle);
      if (directory === undefined) continue;
      // Released before it ended (the worker gave up on it): stop it first, wherever it runs.
      await this.cancelOne(handle);
      await directory.remove();
      await fs.rm(path.join(this.cancelDir, path.basename(directory.dir)), { force: true });
    }
  }

  /**
   * Stops taking work. Attempts still queued here are handed back (unowned, for another process to
   * adopt); running ones are stopped and marked interrupted, so the worker retries them.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.cancelTimer);
    const all = [...this.owned.values()];
    for (const attempt of all) {
      if (this.capacity.withdraw(attempt)) {
        await attempt.directory.writeStatus({ phase: "queued" });
        this.owned.delete(attempt.directory.dir);
        attempt.markDone();
      } else {
        attempt.interruptedBecause = "the worker process running this attempt shut down before it ended";
        attempt.abort.abort();
      }
    }
    await Promise.all(all.map((attempt) => attempt.done));
  }

  private own(attemptId: string, directory: AttemptDirectory, task: Task, demand: Demand): void {
    let markDone = () => {};
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const attempt: OwnedAttempt = {
      attemptId,
      directory,
      task,
      demand,
      abort: new AbortController(),
      ended: false,
      cgroups: [],
      statusWrites: Promise.resolve(),
      done,
      markDone,
    };
    this.owned.set(directory.dir, attempt);
    this.capacity.enqueue(attempt, demand);
  }

  private start(attempt: OwnedAttempt): void {
    const writeStatus = (status: Omit<StatusRecord, "updatedAt">) => {
      attempt.statusWrites = attempt.statusWrites.then(() => attempt.directory.writeStatus(status)).catch(() => undefined);
    };
    void runTask(attempt.task, {
      workDir: attempt.directory.dir,
      attemptId: attempt.attemptId,
      runtime: this.runtime,
      tailBytes: this.config.logTailBytes,
      transfers: { allowedDirs: this.config.allowedDirs },
      signal: attempt.abort.signal,
      onProgress: (progress) => {
        attempt.progress = progress;
        writeStatus(
          progress.phase === "running"
            ? {
                phase: "running",
                owner: this.me,
                executors: progress.executors,
                sandbox: progress.pids.flatMap((pid) => identityOf(pid) ?? []),
                cgroups: attempt.cgroups,
              }
            : { phase: "initializing", owner: this.me },
        );
      },
      // On disk before the sandbox exists: a worker dying at any moment leaves a way to stop it.
      onSandbox: async ({ cgroups }) => {
        attempt.cgroups = cgroups;
        const progress = attempt.progress;
        writeStatus({
          phase: progress?.phase ?? "initializing",
          owner: this.me,
          ...(progress?.phase === "running" ? { executors: progress.executors } : {}),
          cgroups,
        });
        await attempt.statusWrites;
      },
    })
      .then(async (result) => {
        await attempt.statusWrites;
        if (attempt.interruptedBecause !== undefined) {
          await attempt.directory.writeStatus({ phase: "interrupted", reason: attempt.interruptedBecause });
        } else {
          await attempt.directory.writeResult(result);
        }
        attempt.ended = true;
      })
      .catch(async (error: unknown) => {
        // runTask reports the task's own failures in its result; reaching here is a bug or a full disk.
        await attempt.directory
          .writeResult({
            outcome: "system_error",
            executors: [],
            outputs: [],
            systemLogs: [`the local backend failed to run the attempt: ${(error as Error).message}`],
          })
          .catch(() => undefined);
        attempt.ended = true;
      })
      .finally(() => {
        this.owned.delete(attempt.directory.dir);
        this.capacity.finished(attempt.demand);
        attempt.markDone();
      });
  }

  /** Acts on cancel requests other processes left for attempts this one holds. */
  private async takeCancelRequests(): Promise<void> {
    if (this.owned.size === 0) return;
    let requests: string[];
    try {
      requests = await fs.readdir(this.cancelDir);
    } catch {
      return;
    }
    for (const name of requests) {
      const attempt = this.owned.get(path.join(this.config.workDir, name));
      if (attempt === undefined) continue;
      await fs.rm(path.join(this.cancelDir, name), { force: true });
      void this.cancelOwned(attempt);
    }
  }

  private demandOf(task: Task): Demand {
    const cpu = task.resources?.cpuCores ?? 0;
    const ram = task.resources?.ramGb ?? 0;
    return {
      cpuCores: cpu > 0 ? cpu : this.config.defaultTaskCpuCores,
      ramGb: ram > 0 ? ram : this.config.defaultTaskRamGb,
    };
  }

  /** The attempt directory a handle names, when it is one of this backend's (no path outside it). */
  private directoryOf(handle: string): AttemptDirectory | undefined {
    if (!path.isAbsolute(handle)) return undefined;
    const resolved = path.resolve(handle);
    if (path.dirname(resolved) !== this.config.workDir || path.basename(resolved).startsWith(".")) return undefined;
    return new AttemptDirectory(resolved);
  }

  private detectOnce(): () => Promise<ContainerRuntime> {
    let found: Promise<ContainerRuntime> | undefined;
    return () => {
      found ??= detectRuntime(this.config.containerRuntime, {
        network: this.config.network,
        limits: this.config.limits,
        hiddenPaths: [...hiddenPathsOf(this.config.workDir), ...hiddenPathsOf(this.config.dataDir)],
      }).catch((error: unknown) => {
        found = undefined; // Detect again next time: the engine may have been started since.
        throw error;
      });
      return found;
    };
  }
}

/**
 * SIGKILLs what still holds an executor of a dead worker (normally nothing: bwrap dies with its
 * parent, unless the worker died while the sandbox was being set up): every process in its cgroups,
 * and the recorded sandbox pids that are still the processes recorded.
 */
async function stopLeftovers(status: StatusRecord): Promise<void> {
  await killCgroups(status.cgroups ?? []);
  const processes = status.sandbox ?? [];
  for (const identity of processes) {
    if (!isAlive(identity)) continue;
    try {
      process.kill(identity.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  for (let waited = 0; waited < 2000 && processes.some(isAlive); waited += 25) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function statusOf(status: StatusRecord): AttemptStatus {
  switch (status.phase) {
    case "queued":
      return { phase: "queued" };
    case "initializing":
      return { phase: "initializing" };
    case "running":
      return { phase: "running", executorLogs: status.executors ?? [] };
    case "interrupted":
      return { phase: "preempted", reason: status.reason ?? "interrupted" };
  }
}

/** A directory name for an attempt id: readable, and distinct for distinct ids. */
function directoryName(attemptId: string): string {
  const safe = attemptId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 100);
  if (safe === attemptId) return safe;
  return `${safe}-${createHash("sha256").update(attemptId).digest("hex").slice(0, 12)}`;
}

/** A directory the sandbox must not see, by its configured and its real path. */
function hiddenPathsOf(dir: string): string[] {
  try {
    return [...new Set([dir, realpathSync(dir)])];
  } catch {
    return [dir];
  }
}
