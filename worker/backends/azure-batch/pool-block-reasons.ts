import type { BatchServiceClient } from "@azure/batch";
import type { BatchCallGate } from "./batch-call-gate.js";
import { lower } from "./batch-ids.js";

/** How long a pool's resize errors, read to explain a queued task, are reused. */
const POOL_REASON_TTL_MS = 5000;

/**
 * Why the active tasks of a pool are not running: the pool's resize errors (quota, capacity) or
 * nodes that cannot take tasks. Nothing on the task record says so, hence a look at the pool.
 */
export class PoolBlockReasons {
  /** Pool resize errors change slowly: one Pool Get per pool per this long, however many polls ask. */
  private readonly poolReasons = new Map<string, { at: number; reason: Promise<string | undefined> }>();

  constructor(
    private readonly client: BatchServiceClient,
    private readonly gate: BatchCallGate,
    private readonly listIntervalMs: number,
  ) {}

  /** Why an active task is not running: the pool's resize errors (quota, capacity), if any. */
  poolBlockReason(poolId: string): Promise<string | undefined> {
    const cached = this.poolReasons.get(poolId);
    if (cached !== undefined && Date.now() - cached.at < Math.max(POOL_REASON_TTL_MS, this.listIntervalMs)) return cached.reason;
    const reason = this.readPoolBlockReason(poolId);
    this.poolReasons.set(poolId, { at: Date.now(), reason });
    return reason;
  }

  private async readPoolBlockReason(poolId: string): Promise<string | undefined> {
    try {
      const pool = await this.gate.call(() => this.client.pool.get(poolId, { poolGetOptions: { select: "id,allocationState,resizeErrors" } }));
      const errors = pool.resizeErrors ?? [];
      if (errors.length > 0) return `Azure Batch cannot add nodes to pool ${poolId}: ${errors.map((e) => `${e.code}: ${e.message}`).join("; ")}`;
      return await this.readNodeBlockReason(poolId);
    } catch {
      return undefined;
    }
  }

  /**
   * Nodes that cannot take tasks: a failed start task (§4: the tasks just stay active, nothing on
   * the task record says why) or an unusable node. One filtered, `$select`-ed node list.
   */
  private async readNodeBlockReason(poolId: string): Promise<string | undefined> {
    const nodes = await this.gate.call(() =>
      this.client.computeNode.list(poolId, {
        computeNodeListOptions: { filter: "state eq 'starttaskfailed' or state eq 'unusable'", select: "id,state,startTaskInfo,errors", maxResults: 10 },
      }),
    );
    const first = nodes[0];
    if (first === undefined) return undefined;
    const count = nodes.odatanextLink === undefined ? `${nodes.length}` : `${nodes.length} or more`;
    if (lower(first.state) === "starttaskfailed") {
      const info = first.startTaskInfo;
      const why = [info?.failureInfo?.code, info?.exitCode === undefined ? undefined : `exit code ${info.exitCode}`].filter((x) => x !== undefined).join(", ");
      return `the start task failed on ${count} node(s) of pool ${poolId} (${why || "no detail"}); its stderr.txt on node ${first.id} says why`;
    }
    const errors = (first.errors ?? []).map((e) => `${e.code}: ${e.message}`).join("; ");
    return `${count} node(s) of pool ${poolId} are unusable${errors === "" ? "" : `: ${errors}`}`;
  }
}
