import type { BatchServiceClient } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import type { Attempt, AttemptStatus, BackendCapabilities, CallOptions, ComputeBackend, SubmitOutcome } from "../compute-backend.js";
import type { ArmPools } from "./arm-pools.js";
import { BatchCallGate, statusOf } from "./batch-call-gate.js";
import { parseHandle } from "./batch-ids.js";
import { IdlePoolSweeper } from "./idle-pool-sweeper.js";
import { JobTaskViews } from "./job-task-views.js";
import { PoolBlockReasons } from "./pool-block-reasons.js";
import { PoolProvisioner } from "./pool-provisioner.js";
import { TaskDocumentRenewal } from "./task-document-renewal.js";
import type { TaskDocuments } from "./task-documents.js";
import { TaskFollower } from "./task-follower.js";
import { TaskSubmitter } from "./task-submitter.js";

export const BACKEND_PARAMETERS = ["vm_size"] as const;

/**
 * The Azure Batch compute backend: attempts become Batch tasks in shared, autoscaling pools (one
 * job per pool), submitted through AddCollection (≤ 100 per call) and followed with one `$select`-ed
 * Task List per job per poll, never one call per task (shared/DESIGN.md "Azure Batch mapping").
 * A handle is "<jobId>/<taskId>". This class wires the parts; each holds its own state.
 */
export class AzureBatchBackend implements ComputeBackend {
  readonly capabilities: BackendCapabilities = {
    name: "azure-batch",
    backendParameters: [...BACKEND_PARAMETERS],
    storage: ["https://*.blob.core.windows.net/", "http://", "https://"],
  };
  private readonly gate: BatchCallGate;
  private readonly armPools: ArmPools | undefined;
  /** Handles this process cancelled: their end is "canceled" whatever the node managed to write, and they are never renewed. */
  private readonly cancelled = new Set<string>();
  private readonly pools: PoolProvisioner;
  private readonly views: JobTaskViews;
  private readonly renewal: TaskDocumentRenewal | undefined;
  private readonly submitter: TaskSubmitter;
  private readonly follower: TaskFollower;
  private readonly sweeper: IdlePoolSweeper;

  constructor(
    private readonly client: BatchServiceClient,
    config: AzureBatchConfig,
    /** Where task documents go; undefined only with AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT. */
    private readonly documents?: TaskDocuments,
    options: {
      /** The clock document renewal is decided by (tests move it; Batch's own times are compared with it). */
      now?: () => number;
      /** Pool creation through ARM (AZURE_BATCH_SUBSCRIPTION_ID, ...): pools then get their identities; else Pool Add on the data plane. */
      armPools?: ArmPools;
    } = {},
  ) {
    const gate = new BatchCallGate({ maxConcurrent: config.maxConcurrentCalls, maxRetries: config.maxRetries, maxRetryDelayMs: config.maxRetryDelayMs });
    const now = options.now ?? Date.now;
    this.gate = gate;
    this.armPools = options.armPools;
    this.pools = new PoolProvisioner(client, config, gate, options.armPools);
    this.views = new JobTaskViews(client, gate, config.listIntervalMs);
    this.renewal = documents === undefined ? undefined : new TaskDocumentRenewal(client, config, gate, documents, this.cancelled, now);
    this.submitter = new TaskSubmitter(client, config, gate, this.pools, documents, this.renewal, now);
    this.follower = new TaskFollower(client, gate, this.views, new PoolBlockReasons(client, gate, config.listIntervalMs), this.renewal, this.cancelled);
    this.sweeper = new IdlePoolSweeper(client, config, gate, this.pools, this.views);
  }

  /** Calls retried by status (data plane and ARM together), for logs and the benchmark. */
  get retries(): ReadonlyMap<string, number> {
    if (this.armPools === undefined) return this.gate.retries;
    const all = new Map(this.gate.retries);
    for (const [status, count] of this.armPools.retries) all.set(status, (all.get(status) ?? 0) + count);
    return all;
  }

  async submit(attempts: readonly Attempt[], _options?: CallOptions): Promise<SubmitOutcome[]> {
    return this.submitter.submit(attempts);
  }

  async poll(handles: readonly string[], _options?: CallOptions): Promise<AttemptStatus[]> {
    this.sweeper.maybeSweepIdlePools();
    return this.follower.poll(handles);
  }

  /**
   * Deletes the job and pool of a pool of ours whose job has held no task at all (every attempt
   * released) for AZURE_BATCH_POOL_IDLE_MS. Polls do this on their own now and then.
   */
  async sweepIdlePools(): Promise<string[]> {
    return this.sweeper.sweepIdlePools();
  }

  async cancel(handles: readonly string[], _options?: CallOptions): Promise<void> {
    await Promise.all(
      handles.map(async (handle) => {
        const parsed = parseHandle(handle);
        if (parsed === undefined || this.follower.hasEnded(handle)) return;
        this.cancelled.add(handle);
        try {
          await this.gate.call(() => this.client.task.terminate(parsed.jobId, parsed.taskId));
        } catch (err) {
          // Already completed (409) or gone (404): nothing left to stop.
          if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
        }
      }),
    );
  }

  async release(handles: readonly string[], _options?: CallOptions): Promise<void> {
    await Promise.all(
      handles.map(async (handle) => {
        const parsed = parseHandle(handle);
        if (parsed === undefined) return;
        try {
          await this.gate.call(() => this.client.task.deleteMethod(parsed.jobId, parsed.taskId));
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
        // Documents are named by Batch task id. Best effort: an expired SAS makes a leftover useless.
        await this.documents?.remove(parsed.taskId).catch(() => undefined);
        this.follower.forget(handle);
        this.views.forgetTask(parsed.jobId, parsed.taskId);
        this.cancelled.delete(handle);
        this.renewal?.forget(handle);
      }),
    );
  }

  async close(): Promise<void> {
    await this.sweeper.settled();
    this.pools.forgetAll();
  }
}
