import type { Json, PoolRecord } from "./account-model.js";
import { errors, propertyError } from "./batch-error.js";
import { formatDuration } from "./iso-duration.js";
import { optionalDuration, optionalEnum, optionalInteger } from "./request-validation.js";
import type { AccountState } from "./account-state.js";
import { createNode, removeNodes } from "./compute-nodes.js";
import { usablePool } from "./pool-lifecycle.js";

/**
 * Pool Resize and StopResize (§3), and the allocation a resize lands: nodes up to the core quotas,
 * with resize errors as the service reports them (§5).
 */

const DEALLOCATION = ["requeue", "terminate", "taskcompletion", "retaineddata"] as const;

export function resizePool(account: AccountState, id: string, body: Json): void {
  const pool = usablePool(account, id);
  const dedicated = optionalInteger(body, "targetDedicatedNodes", { min: 0, max: 100_000 });
  const lowPriority = optionalInteger(body, "targetLowPriorityNodes", { min: 0, max: 100_000 });
  const timeout = optionalDuration(body, "resizeTimeout");
  if (timeout !== undefined && timeout < 5 * 60_000) throw propertyError(errors.invalidPropertyValue, "resizeTimeout", "must be at least 5 minutes");
  const option = optionalEnum(body, "nodeDeallocationOption", DEALLOCATION) ?? "requeue";
  if (pool.enableAutoScale) throw errors.autoScaleEnabled({ key: "Reason", value: "the pool has autoscale enabled" });
  if (pool.allocationState !== "steady") throw errors.poolBeingResized();
  // Omitted targets keep their current value (the service's default is unconfirmed).
  if (dedicated !== undefined) pool.targetDedicatedNodes = dedicated;
  if (lowPriority !== undefined) pool.targetLowPriorityNodes = lowPriority;
  if (timeout !== undefined) pool.resizeTimeout = formatDuration(timeout);
  pool.deallocationOption = option;
  beginResize(account, pool);
}

export function stopResize(account: AccountState, id: string): void {
  const pool = usablePool(account, id);
  if (pool.allocationState !== "resizing") return;
  pool.resizeDueAtMs = undefined;
  pool.resizeErrors = [{ code: "ResizeStopped", message: "The resize operation was stopped by the user." }];
  setAllocationState(account, pool, "steady");
}

export function nodeCounts(account: AccountState, pool: PoolRecord): { dedicated: number; lowPriority: number } {
  let dedicated = 0;
  let lowPriority = 0;
  for (const node of pool.nodes.values()) {
    if (node.leaving) continue;
    if (node.isDedicated) dedicated += 1;
    else lowPriority += 1;
  }
  return { dedicated, lowPriority };
}

export function setAllocationState(account: AccountState, pool: PoolRecord, state: PoolRecord["allocationState"]): void {
  pool.allocationState = state;
  pool.allocationStateTransitionTime = account.now();
  account.stamp(pool);
}

export function beginResize(account: AccountState, pool: PoolRecord): void {
  pool.resizeErrors = [];
  pool.resizeDueAtMs = Date.now() + account.config.timing.allocationMs;
  setAllocationState(account, pool, "resizing");
}

/** The resize lands: nodes are added up to the core quota, or removed as the deallocation option says (§5). */
export function completeResize(account: AccountState, pool: PoolRecord): void {
  pool.resizeDueAtMs = undefined;
  const resizeErrors: Json[] = [];
  const counts = nodeCounts(account, pool);
  for (const dedicated of [true, false]) {
    const current = dedicated ? counts.dedicated : counts.lowPriority;
    const target = dedicated ? pool.targetDedicatedNodes : pool.targetLowPriorityNodes;
    if (current < target) {
      const fault = account.config.faults.takeAllocation(pool.id);
      if (fault !== undefined) {
        resizeErrors.push({ code: fault.code, message: fault.message ?? "Allocation failed as the requested capacity is not available.", values: [] });
        continue;
      }
      const quota = dedicated ? account.config.quotas.dedicatedCores : account.config.quotas.lowPriorityCores;
      const free = Math.max(0, quota - account.coresInUse(dedicated));
      const count = Math.min(target - current, Math.floor(free / pool.coresPerNode));
      for (let i = 0; i < count; i += 1) createNode(account, pool, dedicated);
      if (count < target - current) {
        resizeErrors.push(
          dedicated
            ? { code: "AccountCoreQuotaReached", message: "The specified account has reached core quota", values: [] }
            : { code: "AccountLowPriorityCoreQuotaReached", message: "The specified account has reached low priority core quota", values: [] },
        );
      }
    } else if (current > target) {
      removeNodes(account, pool, dedicated, current - target, pool.deallocationOption);
    }
  }
  pool.resizeErrors = resizeErrors;
  if (![...pool.nodes.values()].some((node) => node.leaving)) setAllocationState(account, pool, "steady");
}
