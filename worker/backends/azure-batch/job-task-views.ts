import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import { type BatchCallGate, codeOf, statusOf } from "./batch-call-gate.js";
import { lower } from "./batch-ids.js";

// eTag: a task's documents are renewed by a Task Delete only while it is as listed (task-document-renewal.ts).
const TASK_SELECT = "id,eTag,state,stateTransitionTime,previousState,creationTime,executionInfo,nodeInfo";
/**
 * After a first full list, a job's tasks are listed incrementally: only those whose state changed
 * since the newest transition already seen, less this margin for transitions that become visible
 * late. The watermark comes from Batch's own timestamps, so clock skew does not matter.
 */
const WATERMARK_MARGIN_MS = 5000;
/** A full list now and then repairs anything an incremental one missed. */
const FULL_LIST_EVERY_MS = 5 * 60_000;

interface JobView {
  tasks: Map<string, BatchServiceModels.CloudTask>;
  watermark: number | undefined;
  fullListAt: number;
  listedAt: number;
}

/**
 * What the last lists said about each job's tasks (keyed by lower-cased task id): one `$select`-ed
 * Task List per job per poll cycle, never one call per task (shared/DESIGN.md "Azure Batch mapping").
 */
export class JobTaskViews {
  /** What the last lists said about each job's tasks. */
  private readonly views = new Map<string, JobView>();
  /** Lists in flight, shared by the poll calls of one cycle (the worker polls in batches of handles). */
  private readonly listing = new Map<string, Promise<Map<string, BatchServiceModels.CloudTask> | undefined>>();

  constructor(
    private readonly client: BatchServiceClient,
    private readonly gate: BatchCallGate,
    private readonly listIntervalMs: number,
  ) {}

  /**
   * One Task List per job per poll (paged), `$select`-ed to what the states need and, after the
   * first, `$filter`-ed to the tasks whose state changed since the last list.
   * Undefined when the job no longer exists.
   */
  async listTasks(jobId: string, wanted: readonly string[]): Promise<Map<string, BatchServiceModels.CloudTask> | undefined> {
    const inFlight = this.listing.get(jobId);
    if (inFlight !== undefined) {
      const tasks = await inFlight;
      if (tasks === undefined || wanted.every((taskId) => tasks.has(lower(taskId)))) return tasks;
    }
    const fresh = this.views.get(jobId);
    if (fresh !== undefined && Date.now() - fresh.listedAt < this.listIntervalMs && wanted.every((taskId) => fresh.tasks.has(lower(taskId)))) {
      return fresh.tasks;
    }
    const listing = this.refreshView(jobId, wanted);
    this.listing.set(jobId, listing);
    try {
      return await listing;
    } finally {
      if (this.listing.get(jobId) === listing) this.listing.delete(jobId);
    }
  }

  /** A released task: dropped from its job's view. */
  forgetTask(jobId: string, taskId: string): void {
    this.views.get(jobId)?.tasks.delete(lower(taskId));
  }

  /** A deleted job: its next list starts again from a full one. */
  forgetJob(jobId: string): void {
    this.views.delete(jobId);
  }

  private async refreshView(jobId: string, wanted: readonly string[]): Promise<Map<string, BatchServiceModels.CloudTask> | undefined> {
    let view = this.views.get(jobId);
    const full = view === undefined || view.watermark === undefined || Date.now() - view.fullListAt > FULL_LIST_EVERY_MS;
    try {
      if (full || view === undefined) {
        view = { tasks: new Map(), watermark: undefined, fullListAt: Date.now(), listedAt: Date.now() };
        await this.listInto(view, jobId, undefined);
        this.views.set(jobId, view);
        return view.tasks;
      }
      view.listedAt = Date.now();
      const since = new Date((view.watermark ?? 0) - WATERMARK_MARGIN_MS).toISOString();
      await this.listInto(view, jobId, `stateTransitionTime ge DateTime'${since}'`);
      // A handle the view has never seen (added by another worker before our watermark): list it all once.
      if (wanted.some((taskId) => !view!.tasks.has(lower(taskId)))) {
        view.fullListAt = 0;
        view.watermark = undefined;
        return this.refreshView(jobId, []);
      }
      return view.tasks;
    } catch (err) {
      if (codeOf(err) === "JobNotFound" || statusOf(err) === 404) {
        this.views.delete(jobId);
        return undefined;
      }
      throw err;
    }
  }

  private async listInto(view: JobView, jobId: string, filter: string | undefined): Promise<void> {
    let page = await this.gate.call(() =>
      this.client.task.list(jobId, { taskListOptions: { select: TASK_SELECT, ...(filter === undefined ? {} : { filter }) } }),
    );
    for (;;) {
      for (const task of page) {
        view.tasks.set(lower(task.id), task);
        const at = task.stateTransitionTime === undefined ? undefined : new Date(task.stateTransitionTime).getTime();
        if (at !== undefined && (view.watermark === undefined || at > view.watermark)) view.watermark = at;
      }
      const next = page.odatanextLink;
      if (next === undefined) break;
      page = await this.gate.call(() => this.client.task.listNext(next));
    }
  }
}
