import type { Json, PoolRecord } from "./account-model.js";
import { SERIES_VARIABLES } from "./autoscale-formula.js";
import { errors } from "./batch-error.js";
import { validatePoolBody } from "./pool-body.js";
import { coresOf } from "./emulator-options.js";
import { formatDuration } from "./iso-duration.js";
import type { AccountState } from "./account-state.js";
import { runAutoScale } from "./autoscale-operations.js";
import { beginResize } from "./pool-resize.js";
import { requeue } from "./task-runs.js";

/**
 * Pool Add and Pool Delete (§3, §5): the pool record, its quota and the tasks a deletion requeues.
 */
/**
 * Pool Add, and the pool ARM creates (arm-endpoint.ts) with the identities it attaches: a
 * registry's identityReference must name one of them, or one the emulator treats as attached to
 * every pool (option poolIdentities).
 */
export function addPool(account: AccountState, body: Json, attached: { identities?: readonly string[]; armProperties?: Json } = {}): PoolRecord {
  const identities = [...(attached.identities ?? [])];
  const { id, vmSize, enableAutoScale, resizeTimeoutMs, taskSlotsPerNode, targetDedicatedNodes, targetLowPriorityNodes, intervalMs, formula, statements, startTask } = validatePoolBody(body, {
    minAutoScaleEvaluationIntervalMs: account.config.timing.minAutoScaleEvaluationIntervalMs,
    poolIdentities: new Set([...account.config.poolIdentities, ...identities.map((identity) => identity.toLowerCase())]),
  });
  if (account.pools.size >= account.config.quotas.pools) throw errors.poolQuotaReached();
  if (account.pools.has(id.toLowerCase())) throw errors.poolExists();
  const now = account.now();
  const pool: PoolRecord = {
    ...account.freshStamp(),
    id,
    spec: body,
    identities,
    ...(attached.armProperties === undefined ? {} : { armProperties: attached.armProperties }),
    vmSize,
    coresPerNode: coresOf(vmSize, account.config.vmSizeCores),
    creationTime: now,
    state: "active",
    stateTransitionTime: now,
    allocationState: "steady",
    allocationStateTransitionTime: now,
    targetDedicatedNodes: targetDedicatedNodes ?? 0,
    targetLowPriorityNodes: targetLowPriorityNodes ?? 0,
    resizeTimeout: formatDuration(resizeTimeoutMs),
    resizeErrors: [],
    deallocationOption: "requeue",
    enableAutoScale,
    autoScaleEvaluationIntervalMs: intervalMs,
    taskSlotsPerNode,
    nodes: new Map(),
    nodeSequence: 0,
    samples: Object.fromEntries(SERIES_VARIABLES.map((name) => [name, []])) as unknown as PoolRecord["samples"],
    nextSampleAtMs: now.getTime() + account.config.timing.autoScaleSampleIntervalMs,
  };
  if (startTask !== undefined) pool.startTask = startTask;
  if (enableAutoScale && formula !== undefined && statements !== undefined) {
    pool.autoScaleFormula = formula;
    pool.autoScaleStatements = statements;
    pool.autoScaleEvaluationInterval = formatDuration(intervalMs);
  }
  account.pools.set(id.toLowerCase(), pool);
  if (enableAutoScale) runAutoScale(account, pool);
  else if (pool.targetDedicatedNodes + pool.targetLowPriorityNodes > 0) beginResize(account, pool);
  return pool;
}

export function usablePool(account: AccountState, id: string): PoolRecord {
  const pool = account.getPool(id);
  if (pool.state === "deleting") throw errors.poolBeingDeleted();
  return pool;
}

export function deletePool(account: AccountState, id: string): void {
  const pool = usablePool(account, id);
  pool.state = "deleting";
  pool.stateTransitionTime = account.now();
  pool.deleteDueAtMs = Date.now() + account.config.timing.deleteMs;
  account.stamp(pool);
  // §3 Pool Delete: running tasks are terminated and requeued.
  for (const node of pool.nodes.values()) for (const task of [...node.running]) requeue(account, task, true);
}
