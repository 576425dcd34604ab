import { appendFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  Attempt,
  AttemptResult,
  AttemptStatus,
  BackendCapabilities,
  ComputeBackend,
  SubmitOutcome,
} from "../../worker/backends/compute-backend.js";

/**
 * A test double of a compute backend whose attempts follow a script written in the task's tags,
 * with all its state in a directory, so several worker processes (and the test) share it and a
 * killed process loses nothing. An attempt starts when its directory is renamed into place under
 * `attempts/`, which happens once per attempt id: the fault tests list those directories (readRuns)
 * to prove each task started exactly the attempts it should. It is a stand-in for fault tests only; the real end-to-end
 * tests use the local backend.
 *
 * Tags: `script.duration_ms` (default 200: time from submit to the end), `script.init_ms`
 * (default 50: time spent initializing), `script.outcome`
 * (complete, executor_error, system_error; default complete), `script.exit_code`,
 * `script.preempt_attempts` (attempts 0..n-1 end preempted), `script.blocked_times` (the first n
 * submissions are blocked), `script.reject` (a reason: the submission is rejected),
 * `script.forget` ("true": polls answer unknown).
 */
export class ScriptedBackend implements ComputeBackend {
  readonly capabilities: BackendCapabilities = {
    name: "scripted",
    backendParameters: ["vm_size", "Priority"],
    storage: ["file:///tmp"],
  };
  /** Every call's size, to check that the worker works in bulk. */
  readonly calls: Array<{ method: string; count: number }> = [];

  constructor(private readonly root: string) {}

  static async create(root: string): Promise<ScriptedBackend> {
    await mkdir(join(root, "attempts"), { recursive: true });
    await mkdir(join(root, "blocked"), { recursive: true });
    return new ScriptedBackend(root);
  }

  async submit(attempts: readonly Attempt[]): Promise<SubmitOutcome[]> {
    this.calls.push({ method: "submit", count: attempts.length });
    const outcomes: SubmitOutcome[] = [];
    for (const attempt of attempts) outcomes.push(await this.submitOne(attempt));
    return outcomes;
  }

  private async submitOne(attempt: Attempt): Promise<SubmitOutcome> {
    const tags = attempt.task.tags;
    if (tags["script.reject"] !== undefined) return { kind: "rejected", reason: tags["script.reject"] };
    const blockedTimes = Number(tags["script.blocked_times"] ?? 0);
    if (blockedTimes > 0) {
      const counter = join(this.root, "blocked", attempt.taskId);
      const seen = Number(await readFile(counter, "utf8").catch(() => "0"));
      if (seen < blockedTimes) {
        await writeFile(counter, String(seen + 1));
        return { kind: "blocked", reason: "no capacity in the scripted pool" };
      }
    }
    const dir = this.dirOf(attempt.attemptId);
    const record: AttemptRecord = {
      taskId: attempt.taskId,
      attempt: attempt.attempt,
      startedAt: Date.now(),
      tags,
      backendParameters: attempt.task.resources?.backendParameters ?? {},
    };
    // Written aside, then renamed into place: exactly one caller creates an attempt, complete.
    const draft = await mkdtemp(join(this.root, "draft-"));
    await writeFile(join(draft, "attempt.json"), JSON.stringify(record));
    try {
      await rename(draft, dir);
    } catch (error) {
      await rm(draft, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST" || code === "ENOTEMPTY") return { kind: "submitted", handle: attempt.attemptId };
      throw error;
    }
    return { kind: "submitted", handle: attempt.attemptId };
  }

  async poll(handles: readonly string[]): Promise<AttemptStatus[]> {
    this.calls.push({ method: "poll", count: handles.length });
    return Promise.all(handles.map((handle) => this.pollOne(handle)));
  }

  private async pollOne(handle: string): Promise<AttemptStatus> {
    const record = await this.read(handle);
    if (record === undefined || record.tags["script.forget"] === "true") {
      return { phase: "unknown", reason: `no attempt ${handle}` };
    }
    const start = new Date(record.startedAt).toISOString();
    if (await exists(join(this.dirOf(handle), "canceled"))) {
      return { phase: "ended", result: { outcome: "canceled", startTime: start, executors: [], outputs: [], systemLogs: [] } };
    }
    const duration = Number(record.tags["script.duration_ms"] ?? 200);
    const elapsed = Date.now() - record.startedAt;
    if (elapsed < Number(record.tags["script.init_ms"] ?? 50)) return { phase: "initializing" };
    if (elapsed < duration) return { phase: "running", executorLogs: [{ exitCode: 0, startTime: start }] };
    if (record.attempt < Number(record.tags["script.preempt_attempts"] ?? 0)) {
      return { phase: "preempted", reason: "the scripted node was reclaimed" };
    }
    const outcome = (record.tags["script.outcome"] ?? "complete") as AttemptResult["outcome"];
    const exitCode = Number(record.tags["script.exit_code"] ?? (outcome === "executor_error" ? 1 : 0));
    const end = new Date(record.startedAt + duration).toISOString();
    return {
      phase: "ended",
      result: {
        outcome,
        startTime: start,
        endTime: end,
        executors: [{ exitCode, startTime: start, endTime: end, stdout: `out of ${handle}\n`, stderr: "" }],
        outputs: outcome === "complete" ? [{ url: "file:///tmp/out.txt", path: "/out/out.txt", sizeBytes: 42n }] : [],
        systemLogs: outcome === "system_error" ? ["the scripted node failed"] : [],
        metadata: { handle },
      },
    };
  }

  async cancel(handles: readonly string[]): Promise<void> {
    this.calls.push({ method: "cancel", count: handles.length });
    for (const handle of handles) {
      if ((await this.read(handle)) === undefined) continue;
      await writeFile(join(this.dirOf(handle), "canceled"), "");
      appendFileSync(join(this.root, "cancels.log"), `${handle}\n`);
    }
  }

  async release(handles: readonly string[]): Promise<void> {
    this.calls.push({ method: "release", count: handles.length });
    for (const handle of handles) appendFileSync(join(this.root, "released.log"), `${handle}\n`);
  }

  async close(): Promise<void> {}

  private dirOf(handle: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(handle)) throw new Error(`not a scripted handle: ${handle}`);
    return join(this.root, "attempts", handle);
  }

  private async read(handle: string): Promise<AttemptRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dirOf(handle), "attempt.json"), "utf8")) as AttemptRecord;
    } catch {
      return undefined;
    }
  }
}

interface AttemptRecord {
  taskId: string;
  attempt: number;
  startedAt: number;
  tags: Record<string, string>;
  backendParameters: Record<string, string>;
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

/**
 * The attempts a scripted backend started, by attempt id, sorted. Read from the attempt directories,
 * not from a log written after the rename: a worker killed between the two would leave a started
 * attempt out of such a log (seen under load), and its resubmission finds the directory and adds none.
 */
export async function readRuns(root: string): Promise<string[]> {
  const entries = await readdir(join(root, "attempts")).catch(() => [] as string[]);
  return entries.sort();
}

export async function readLog(root: string, name: "cancels.log" | "released.log"): Promise<string[]> {
  const text = await readFile(join(root, name), "utf8").catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}
