import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import { type BatchCallGate, codeOf, statusOf } from "./batch-call-gate.js";
import { lower } from "./batch-ids.js";
import type { JobTaskViews } from "./job-task-views.js";
import type { PoolProvisioner } from "./pool-provisioner.js";

/** Deletes our pools (with their jobs) that have held no task for AZURE_BATCH_POOL_IDLE_MS. */
export class IdlePoolSweeper {
  /** When each of our pools was first seen idle (no task at all in its job), by this process. */
  private readonly idleSince = new Map<string, number>();
  private lastSweepAt = Date.now();
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly client: BatchServiceClient,
    private readonly config: AzureBatchConfig,
    private readonly gate: BatchCallGate,
    private readonly pools: PoolProvisioner,
    private readonly views: JobTaskViews,
  ) {}

  /** Idle pools are looked for at most every quarter of AZURE_BATCH_POOL_IDLE_MS, beside the polls. */
  maybeSweepIdlePools(): void {
    const every = Math.max(1000, this.config.poolIdleMs / 4);
    if (this.sweeping !== undefined || Date.now() - this.lastSweepAt < every) return;
    this.lastSweepAt = Date.now();
    this.sweeping = this.sweepIdlePools()
      .then(() => undefined, () => undefined)
      .finally(() => {
        this.sweeping = undefined;
      });
  }

  /** The sweep in progress, if any, has ended. */
  async settled(): Promise<void> {
    await this.sweeping;
  }

  /**
   * Deletes the job and pool of a pool of ours whose job has held no task at all (every attempt
   * released) for AZURE_BATCH_POOL_IDLE_MS. Costs one Pool List plus one task count per pool.
   */
  async sweepIdlePools(): Promise<string[]> {
    const deleted: string[] = [];
    const prefix = `${this.config.poolPrefix}-`;
    const pools = await this.gate.call(() =>
      this.client.pool.list({ poolListOptions: { filter: `startswith(id,'${prefix}')`, select: "id,state" } }),
    );
    const now = Date.now();
    for (const pool of pools) {
      const id = pool.id ?? "";
      if (lower(pool.state) !== "active" || this.pools.isCreating(id)) continue;
      let counts: BatchServiceModels.TaskCounts | undefined;
      try {
        counts = (await this.gate.call(() => this.client.job.getTaskCounts(id))).taskCounts;
      } catch (err) {
        if (codeOf(err) !== "JobNotFound") throw err;
      }
      const busy = counts !== undefined && counts.active + counts.running + counts.completed > 0;
      if (busy) {
        this.idleSince.delete(id);
        continue;
      }
      const since = this.idleSince.get(id) ?? now;
      this.idleSince.set(id, since);
      if (now - since < this.config.poolIdleMs) continue;
      this.pools.forget(id);
      this.views.forgetJob(id);
      this.idleSince.delete(id);
      // §7: pool and job go together, ignoring "already gone".
      await this.gate.call(() => this.client.job.deleteMethod(id)).catch((err: unknown) => {
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      });
      await this.gate.call(() => this.client.pool.deleteMethod(id)).catch((err: unknown) => {
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      });
      deleted.push(id);
    }
    return deleted;
  }
}
