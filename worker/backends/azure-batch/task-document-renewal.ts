import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import { type BatchCallGate, statusOf } from "./batch-call-gate.js";
import { lower } from "./batch-ids.js";
import type { TaskDocuments } from "./task-documents.js";
import { MAX_TASKS_PER_COLLECTION } from "./task-submitter.js";

/**
 * Tasks still waiting for a node when their documents' read SAS nears its end are added again
 * with fresh URLs, under the same id (the same attempt and handle: no new entry in the task's
 * logs). Batch cannot change a task's resource files, and a node that picks a task up after the
 * SAS expired fails its download (BlobAccessDenied, a system error). Found in the poll's own
 * Task List: a never-started `active` task whose URLs were signed longer ago than the TTL less a
 * margin (the later of when this process signed them and Batch's creationTime of the task); costs one Task Delete per such task and one AddCollection per 100 of them, plus
 * a Task Get when this process did not add the task itself (another worker, or before a restart),
 * and a Task Get and a second delete when the task changed after the list.
 * The delete holds only while the task is as listed (If-Match its ETag): a task a node took in the
 * moment between the list and the delete is left to run.
 */
export class TaskDocumentRenewal {
  /**
   * What each handle was added with and when its document URLs were signed (this process's clock),
   * to add it again with renewed URLs.
   */
  private readonly bodies = new Map<string, { body: BatchServiceModels.TaskAddParameter; signedAt: number }>();
  /** Renewals in flight, by handle. */
  private readonly renewing = new Map<string, Promise<void>>();

  constructor(
    private readonly client: BatchServiceClient,
    private readonly config: AzureBatchConfig,
    private readonly gate: BatchCallGate,
    private readonly documents: TaskDocuments,
    /** Handles this process cancelled: never renewed. */
    private readonly cancelled: ReadonlySet<string>,
    /** The clock document renewal is decided by (tests move it; Batch's own times are compared with it). */
    private readonly now: () => number,
  ) {}

  /** A task this process added, with the URLs signed at signedAt. */
  remember(handle: string, body: BatchServiceModels.TaskAddParameter, signedAt: number): void {
    this.bodies.set(handle, { body, signedAt });
  }

  forget(handle: string): void {
    this.bodies.delete(handle);
  }

  /** Renews the documents of the wanted tasks of one job, as its Task List shows them, that are due. */
  async renewDocuments(jobId: string, tasks: Map<string, BatchServiceModels.CloudTask>, wanted: readonly { handle: string; taskId: string }[]): Promise<void> {
    const ttlMs = this.config.taskDocuments?.sasTtlSeconds === undefined ? undefined : this.config.taskDocuments.sasTtlSeconds * 1000;
    if (ttlMs === undefined) return;
    // Ahead of the expiry by a quarter of the TTL, at most 30 minutes: a few poll cycles and a scheduling delay.
    const renewAt = ttlMs - Math.min(ttlMs / 4, 30 * 60_000);
    const due = wanted.filter(({ handle, taskId }) => {
      const task = tasks.get(lower(taskId));
      if (task === undefined || lower(task.state) !== "active" || task.executionInfo?.startTime !== undefined) return false;
      if (this.cancelled.has(handle) || this.renewing.has(handle)) return false;
      // The later of our signing time and Batch's creation time: another worker may have renewed it since.
      const created = task.creationTime === undefined ? undefined : new Date(task.creationTime).getTime();
      const signed = this.bodies.get(handle)?.signedAt;
      const signedAt = signed === undefined ? created : created === undefined ? signed : Math.max(signed, created);
      return signedAt !== undefined && this.now() - signedAt >= renewAt;
    });
    if (due.length === 0) return;
    const renewal = this.renewGroup(jobId, due.map((item) => ({ ...item, eTag: tasks.get(lower(item.taskId))?.eTag })));
    for (const { handle } of due) this.renewing.set(handle, renewal);
    try {
      await renewal;
    } finally {
      for (const { handle } of due) this.renewing.delete(handle);
    }
  }

  private async renewGroup(jobId: string, due: readonly { handle: string; taskId: string; eTag: string | undefined }[]): Promise<void> {
    const ready: { handle: string; body: BatchServiceModels.TaskAddParameter; signedAt: number }[] = [];
    await Promise.all(
      due.map(async ({ handle, taskId, eTag }) => {
        try {
          const body = this.bodies.get(handle)?.body ?? (await this.bodyFromBatch(jobId, taskId));
          const signedAt = this.now();
          const resourceFiles = await this.documents.renewedResourceFiles(taskId, body.resourceFiles ?? []);
          if (!(await this.deleteWhileWaiting(jobId, taskId, eTag))) return;
          ready.push({ handle, body: { ...body, resourceFiles }, signedAt });
        } catch {
          // Left as it is: the next poll tries again while the task still waits.
        }
      }),
    );
    for (let start = 0; start < ready.length; start += MAX_TASKS_PER_COLLECTION) {
      const chunk = ready.slice(start, start + MAX_TASKS_PER_COLLECTION);
      let answer: BatchServiceModels.TaskAddCollectionResult | undefined;
      try {
        answer = await this.gate.call(() => this.client.task.addCollection(jobId, chunk.map((item) => item.body)));
      } catch {
        answer = undefined;
      }
      const byId = new Map((answer?.value ?? []).map((result) => [lower(result.taskId), result]));
      for (const { handle, body, signedAt } of chunk) {
        const result = byId.get(lower(body.id));
        if (result === undefined || lower(result.status) !== "success") continue;
        this.bodies.set(handle, { body, signedAt });
      }
    }
  }

  /**
   * Deletes the task if it still waits for a node: at the ETag it was listed with, and if Batch
   * says it has changed since (412), at the ETag of a fresh read that shows it still waiting, once.
   * False when it no longer waits (a node took it, or it ended): it is then left alone.
   */
  private async deleteWhileWaiting(jobId: string, taskId: string, listedETag: string | undefined): Promise<boolean> {
    let eTag = listedETag;
    for (let tries = 0; tries < 2; tries += 1) {
      try {
        await this.gate.call(() => this.client.task.deleteMethod(jobId, taskId, eTag === undefined ? {} : { taskDeleteMethodOptions: { ifMatch: eTag } }));
        return true;
      } catch (err) {
        // Gone already (404): an earlier renewal deleted it and then failed to add it again.
        if (statusOf(err) === 404) return true;
        if (statusOf(err) !== 412) throw err;
      }
      const now = await this.gate.call(() => this.client.task.get(jobId, taskId, { taskGetOptions: { select: "id,eTag,state,executionInfo" } }));
      if (lower(now.state) !== "active" || now.executionInfo?.startTime !== undefined) return false;
      eTag = now.eTag;
    }
    return false;
  }

  /** The add parameters of a task this process did not add, from Batch: what taskAddParameter sets. */
  private async bodyFromBatch(jobId: string, taskId: string): Promise<BatchServiceModels.TaskAddParameter> {
    const task = await this.gate.call(() =>
      this.client.task.get(jobId, taskId, { taskGetOptions: { select: "id,displayName,commandLine,resourceFiles,environmentSettings,constraints,userIdentity,containerSettings" } }),
    );
    return {
      id: task.id ?? taskId,
      commandLine: task.commandLine ?? "",
      ...(task.displayName === undefined ? {} : { displayName: task.displayName }),
      ...(task.resourceFiles === undefined ? {} : { resourceFiles: task.resourceFiles }),
      ...(task.environmentSettings === undefined ? {} : { environmentSettings: task.environmentSettings }),
      ...(task.constraints === undefined ? {} : { constraints: { maxTaskRetryCount: task.constraints.maxTaskRetryCount ?? 0, ...(task.constraints.retentionTime === undefined ? {} : { retentionTime: task.constraints.retentionTime }) } }),
      ...(task.userIdentity === undefined ? {} : { userIdentity: task.userIdentity }),
      ...(task.containerSettings === undefined ? {} : { containerSettings: task.containerSettings }),
    };
  }
}
