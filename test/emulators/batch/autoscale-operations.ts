import type { Json, PoolRecord } from "./account-model.js";
import { errors, propertyError } from "./batch-error.js";
import { autoScaleRun, evaluationInterval, parseFormulaOrThrow } from "./pool-autoscale.js";
import { formatDuration } from "./iso-duration.js";
import { optionalString, requireString } from "./request-validation.js";
import type { AccountState } from "./account-state.js";
import { usablePool } from "./pool-lifecycle.js";
import { beginResize, nodeCounts } from "./pool-resize.js";

/**
 * Pool autoscale operations (§3 EnableAutoScale, DisableAutoScale, EvaluateAutoScale) and the
 * evaluation the clock runs at each interval; the formula language and samples are pool-autoscale.ts.
 */
export function enableAutoScale(account: AccountState, id: string, body: Json): void {
  const pool = usablePool(account, id);
  const formula = optionalString(body, "autoScaleFormula") ?? pool.autoScaleFormula;
  if (formula === undefined) throw propertyError(errors.missingRequiredProperty, "autoScaleFormula");
  const statements = parseFormulaOrThrow(formula);
  const intervalMs = body.autoScaleEvaluationInterval === undefined ? pool.autoScaleEvaluationIntervalMs : evaluationInterval(body, account.config.timing.minAutoScaleEvaluationIntervalMs);
  if (pool.allocationState === "resizing" && !pool.enableAutoScale) throw errors.poolBeingResized();
  const nowMs = Date.now();
  if (pool.lastEnableAutoScaleMs !== undefined && nowMs - pool.lastEnableAutoScaleMs < account.config.timing.enableAutoScaleSpacingMs) {
    throw errors.autoScaleTooManyRequestsToEnable();
  }
  pool.lastEnableAutoScaleMs = nowMs;
  pool.enableAutoScale = true;
  pool.autoScaleFormula = formula;
  pool.autoScaleStatements = statements;
  pool.autoScaleEvaluationIntervalMs = intervalMs;
  pool.autoScaleEvaluationInterval = formatDuration(intervalMs);
  account.stamp(pool);
  runAutoScale(account, pool);
}

export function disableAutoScale(account: AccountState, id: string): void {
  const pool = usablePool(account, id);
  pool.enableAutoScale = false;
  pool.autoScaleFormula = undefined;
  pool.autoScaleStatements = undefined;
  pool.autoScaleEvaluationInterval = undefined;
  pool.autoScaleRun = undefined;
  pool.nextAutoScaleAtMs = undefined;
  account.stamp(pool);
}

/** §3 Pool EvaluateAutoScale: autoscale must be on; the pool does not change. */
export function evaluateAutoScale(account: AccountState, id: string, body: Json): Json {
  const pool = usablePool(account, id);
  const formula = requireString(body, "autoScaleFormula");
  if (!pool.enableAutoScale) throw errors.autoScaleNotEnabled();
  return autoScaleRun(pool, account.now(), account.config.timing.autoScaleSampleIntervalMs, parseFormulaOrThrow(formula)).run;
}

/** Control API: evaluate a pool's formula now, as the service does at each interval. */
export function evaluateAutoScaleNow(account: AccountState, id: string): void {
  const pool = account.getPool(id);
  if (!pool.enableAutoScale) throw new Error(`pool ${id} does not have autoscale enabled`);
  runAutoScale(account, pool);
}

export function runAutoScale(account: AccountState, pool: PoolRecord): void {
  if (pool.autoScaleStatements === undefined) return;
  const { run, outcome } = autoScaleRun(pool, account.now(), account.config.timing.autoScaleSampleIntervalMs, pool.autoScaleStatements);
  pool.autoScaleRun = run;
  pool.nextAutoScaleAtMs = Date.now() + (account.config.timing.autoScaleEvaluationEveryMs ?? pool.autoScaleEvaluationIntervalMs);
  if (outcome === undefined) return;
  pool.targetDedicatedNodes = outcome.targetDedicatedNodes;
  pool.targetLowPriorityNodes = outcome.targetLowPriorityNodes;
  pool.deallocationOption = outcome.nodeDeallocationOption;
  account.stamp(pool);
  const counts = nodeCounts(account, pool);
  if (pool.allocationState === "steady" && (counts.dedicated !== pool.targetDedicatedNodes || counts.lowPriority !== pool.targetLowPriorityNodes)) {
    beginResize(account, pool);
  }
}
