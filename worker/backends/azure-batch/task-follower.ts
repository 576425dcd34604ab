import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import { parseResultDocument } from "../../runner/result-document.js";
import type { AttemptResult, AttemptStatus } from "../compute-backend.js";
import { type BatchCallGate, statusOf } from "./batch-call-gate.js";
import { lower, parseHandle } from "./batch-ids.js";
import { RESULT_FILE } from "./batch-specs.js";
import type { JobTaskViews } from "./job-task-views.js";
import type { PoolBlockReasons } from "./pool-block-reasons.js";
import type { TaskDocumentRenewal } from "./task-document-renewal.js";

/**
 * Answers where each attempt is, from its job's Task List: queued (with why, when the pool says),
 * running, preempted (Batch requeued it), or ended with the runner's result read back.
 */
export class TaskFollower {
  /** Results read back, kept until release. */
  private readonly results = new Map<string, AttemptResult>();
  /** Preempted handles already terminated, so Batch does not rerun them beside the new attempt. */
  private readonly preemptionHandled = new Set<string>();
  /** The first start time seen for each running attempt, to notice a rerun between polls. */
  private readonly firstStart = new Map<string, number>();

  constructor(
    private readonly client: BatchServiceClient,
    private readonly gate: BatchCallGate,
    private readonly views: JobTaskViews,
    private readonly poolReasons: PoolBlockReasons,
    /** Renews the documents of tasks still waiting, from the same lists; there with documents. */
    private readonly renewal: TaskDocumentRenewal | undefined,
    /** Handles this process cancelled: their end is "canceled" whatever the node managed to write. */
    private readonly cancelled: ReadonlySet<string>,
  ) {}

  async poll(handles: readonly string[]): Promise<AttemptStatus[]> {
    const statuses: (AttemptStatus | undefined)[] = handles.map(() => undefined);
    const byJob = new Map<string, { index: number; handle: string; taskId: string }[]>();
    handles.forEach((handle, index) => {
      const cached = this.results.get(handle);
      if (cached !== undefined) {
        statuses[index] = { phase: "ended", result: cached };
        return;
      }
      const parsed = parseHandle(handle);
      if (parsed === undefined) {
        statuses[index] = { phase: "unknown", reason: `"${handle}" is not an Azure Batch handle` };
        return;
      }
      const list = byJob.get(parsed.jobId) ?? [];
      list.push({ index, handle, taskId: parsed.taskId });
      byJob.set(parsed.jobId, list);
    });
    await Promise.all(
      [...byJob.entries()].map(async ([jobId, wanted]) => {
        const tasks = await this.views.listTasks(jobId, wanted.map((w) => w.taskId));
        if (tasks === undefined) {
          for (const w of wanted) statuses[w.index] = { phase: "unknown", reason: `the Batch job ${jobId} no longer exists` };
          return;
        }
        await this.renewal?.renewDocuments(jobId, tasks, wanted);
        let poolReason: Promise<string | undefined> | undefined;
        await Promise.all(
          wanted.map(async (w) => {
            const task = tasks.get(lower(w.taskId));
            if (task === undefined) {
              statuses[w.index] = { phase: "unknown", reason: `the Batch task ${w.taskId} no longer exists` };
              return;
            }
            if (lower(task.state) === "active" && !this.cancelled.has(w.handle)) {
              poolReason ??= this.poolReasons.poolBlockReason(jobId);
            }
            statuses[w.index] = await this.statusOf(jobId, w.handle, task, poolReason);
          }),
        );
      }),
    );
    return statuses.map((status) => status ?? { phase: "unknown", reason: "not polled" });
  }

  /** Whether the attempt's result has been read back (and not released yet). */
  hasEnded(handle: string): boolean {
    return this.results.has(handle);
  }

  /** A released attempt: nothing about it is kept. */
  forget(handle: string): void {
    this.results.delete(handle);
    this.preemptionHandled.delete(handle);
    this.firstStart.delete(handle);
  }

  private async statusOf(jobId: string, handle: string, task: BatchServiceModels.CloudTask, poolReason: Promise<string | undefined> | undefined): Promise<AttemptStatus> {
    const state = lower(task.state);
    const execution = task.executionInfo;
    if (state === "active") {
      // We never ask Batch to retry, so a task back in active after it started was requeued by
      // Batch (§4: a preempted node, or a pool shrink): the worker makes a new attempt.
      if (execution?.startTime !== undefined && lower(task.previousState) === "running" && !this.cancelled.has(handle)) {
        await this.stopRequeued(handle, jobId, task.id ?? "");
        return { phase: "preempted", reason: "the Batch node running it was preempted or removed, and Batch requeued the task" };
      }
      const reason = poolReason === undefined ? undefined : await poolReason;
      return reason === undefined ? { phase: "queued" } : { phase: "queued", reason };
    }
    if (state === "preparing") return { phase: "initializing" };
    if (state === "running") {
      // A rerun between two polls shows only as a later start: Batch requeued the task meanwhile.
      const start = execution?.startTime === undefined ? undefined : new Date(execution.startTime).getTime();
      const first = this.firstStart.get(handle);
      if (start !== undefined && first === undefined) this.firstStart.set(handle, start);
      if (start !== undefined && first !== undefined && start > first && !this.cancelled.has(handle)) {
        await this.stopRequeued(handle, jobId, task.id ?? "");
        return { phase: "preempted", reason: "the Batch node running it was preempted or removed, and Batch ran the task again" };
      }
      return { phase: "running" };
    }
    const result = await this.readResult(jobId, handle, task);
    this.results.set(handle, result);
    return { phase: "ended", result };
  }

  private async stopRequeued(handle: string, jobId: string, taskId: string): Promise<void> {
    if (this.preemptionHandled.has(handle)) return;
    this.preemptionHandled.add(handle);
    await this.gate.call(() => this.client.task.terminate(jobId, taskId)).catch(() => undefined);
  }

  /** The runner's result document, or what Batch says when the runner could not write one. */
  private async readResult(jobId: string, handle: string, task: BatchServiceModels.CloudTask): Promise<AttemptResult> {
    const execution = task.executionInfo;
    const failure = execution?.failureInfo;
    const times = {
      ...(execution?.startTime === undefined ? {} : { startTime: new Date(execution.startTime).toISOString() }),
      ...(execution?.endTime === undefined ? {} : { endTime: new Date(execution.endTime).toISOString() }),
    };
    if (this.cancelled.has(handle) || failure?.code === "TaskEnded") {
      if (this.cancelled.has(handle) || lower(failure?.category) === "usererror") {
        return { outcome: "canceled", ...times, executors: [], outputs: [], systemLogs: ["the attempt was cancelled"] };
      }
    }
    let text: string | undefined;
    try {
      const file = await this.gate.call(() => this.client.file.getFromTask(jobId, task.id ?? "", RESULT_FILE));
      const chunks: Buffer[] = [];
      for await (const chunk of file.readableStreamBody ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      text = Buffer.concat(chunks).toString("utf8");
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
    }
    if (text !== undefined) {
      try {
        return parseResultDocument(text);
      } catch (err) {
        return { outcome: "system_error", ...times, executors: [], outputs: [], systemLogs: [`the node's result document is unreadable: ${(err as Error).message}`] };
      }
    }
    const why =
      failure !== undefined
        ? `Azure Batch ended the task: ${failure.code ?? "unknown"}: ${failure.message ?? ""}`.trim()
        : `the node-side runner exited with code ${execution?.exitCode ?? "unknown"} without writing a result`;
    return { outcome: "system_error", ...times, executors: [], outputs: [], systemLogs: [why] };
  }
}
