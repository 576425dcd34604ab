import type { BatchServiceClient } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import type { ArmPools } from "./arm-pools.js";
import { BatchCallError, type BatchCallGate, codeOf, statusOf } from "./batch-call-gate.js";
import { jobAddParameter, poolAddParameter, type PoolPlan } from "./batch-specs.js";

/** Why a pool cannot take tasks yet (blocked: quota, the task waits) or at all (rejected: Batch refused it). */
export type PoolProblem = { kind: "blocked"; reason: string } | { kind: "rejected"; reason: string };

/**
 * Makes sure a shared pool and its job (one job per pool, with the pool's id) exist before tasks
 * go to them: Pool Add on the data plane, or a PUT through ARM when pools need identities.
 */
export class PoolProvisioner {
  /** Pools (and their jobs) this process has seen exist. */
  private readonly readyPools = new Set<string>();
  private readonly creatingPools = new Map<string, Promise<PoolProblem | undefined>>();

  constructor(
    private readonly client: BatchServiceClient,
    private readonly config: AzureBatchConfig,
    private readonly gate: BatchCallGate,
    /** Pool creation through ARM (AZURE_BATCH_SUBSCRIPTION_ID, ...): pools then get their identities; else Pool Add on the data plane. */
    private readonly armPools: ArmPools | undefined,
  ) {}

  /**
   * Creates the pool and its job when missing; answers why not when quota blocks them (the task
   * waits) or Batch refuses them as invalid (a 400: the settings are wrong, the attempt is rejected).
   */
  async ensurePool(plan: PoolPlan): Promise<PoolProblem | undefined> {
    if (this.readyPools.has(plan.id)) return undefined;
    // Concurrent submits for one pool share a single creation.
    let creating = this.creatingPools.get(plan.id);
    if (creating === undefined) {
      creating = this.createPool(plan).finally(() => this.creatingPools.delete(plan.id));
      this.creatingPools.set(plan.id, creating);
    }
    return creating;
  }

  /** Whether this process is creating the pool right now (an idle sweep leaves it alone). */
  isCreating(poolId: string): boolean {
    return this.creatingPools.has(poolId);
  }

  /** The pool or its job is gone (deleted as idle): the next ensurePool checks again. */
  forget(poolId: string): void {
    this.readyPools.delete(poolId);
  }

  forgetAll(): void {
    this.readyPools.clear();
  }

  private async createPool(plan: PoolPlan): Promise<PoolProblem | undefined> {
    const blocked = (reason: string): PoolProblem => ({ kind: "blocked", reason });
    // The gate's errors carry Batch's status, code and first message line, never the request (a pool body may hold registry passwords).
    const refused = (what: string, err: unknown): PoolProblem => {
      const details = err instanceof BatchCallError ? err.details.map((d) => `${d.key}: ${d.value}`).join("; ") : "";
      return { kind: "rejected", reason: `Azure Batch refused ${what}: ${(err as Error).message}${details === "" ? "" : ` (${details})`}` };
    };
    try {
      if (this.armPools !== undefined) await this.armPools.create(plan);
      else await this.gate.call(() => this.client.pool.add(poolAddParameter(this.config, plan)));
    } catch (err) {
      if (codeOf(err) === "PoolQuotaReached") return blocked(`the Batch account's pool quota is reached; a ${plan.vmSize.name} pool cannot be created yet`);
      if (codeOf(err) === "PoolBeingDeleted") return blocked(`the idle pool ${plan.id} is being deleted; the task waits for it to go and will be submitted again`);
      if (statusOf(err) === 400) return refused(`the pool ${plan.id}`, err);
      if (codeOf(err) !== "PoolExists") throw err;
    }
    try {
      await this.gate.call(() => this.client.job.add(jobAddParameter(plan)));
    } catch (err) {
      if (codeOf(err) === "ActiveJobAndScheduleQuotaReached") return blocked("the Batch account's active job quota is reached; the task waits for a free job slot");
      if (statusOf(err) === 400) return refused(`the job ${plan.id}`, err);
      if (codeOf(err) !== "JobExists") throw err;
    }
    this.readyPools.add(plan.id);
    return undefined;
  }
}
