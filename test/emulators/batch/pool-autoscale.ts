import type { JobRecord, Json, PoolRecord } from "./account-model.js";
import { evaluateFormula, FormulaEvaluationError, FormulaSyntaxError, parseFormula, type Statement } from "./autoscale-formula.js";
import { BatchError, batchTime, errors, propertyError } from "./batch-error.js";
import { optionalDuration } from "./request-validation.js";

/**
 * A pool's autoscale as the service runs it (shared/notes/AZURE-BATCH.md §5): the formula checked
 * when it is set, the evaluation interval's bounds, metric samples taken on the clock, and one
 * evaluation into an AutoScaleRun. The account applies the outcome (targets, resizes).
 */

/** Samples kept per autoscale series. */
const MAX_SAMPLES = 10_000;

export function parseFormulaOrThrow(formula: string): Statement[] {
  try {
    return parseFormula(formula);
  } catch (err) {
    if (err instanceof FormulaSyntaxError) {
      if (/longer than 8 KB|more than 100/.test(err.message)) throw propertyError(errors.autoScaleFormulaTooLong, "autoScaleFormula", err.message);
      throw propertyError(errors.autoScalingFormulaSyntaxError, "autoScaleFormula", err.message);
    }
    throw err;
  }
}

export function evaluationInterval(body: Json, minMs: number): number {
  const ms = optionalDuration(body, "autoScaleEvaluationInterval") ?? 15 * 60_000;
  // §5: min 5 min, max 168 h, else 400.
  if (ms < minMs || ms > 168 * 3_600_000) {
    throw new BatchError(400, errors.invalidAutoScalingSettings().code, errors.invalidAutoScalingSettings().message, [
      { key: "PropertyName", value: "autoScaleEvaluationInterval" },
      { key: "Reason", value: "must be between 5 minutes and 168 hours" },
    ]);
  }
  return ms;
}

function autoScaleContext(pool: PoolRecord, sampleIntervalMs: number) {
  let dedicated = 0;
  let lowPriority = 0;
  let preempted = 0;
  let usable = 0;
  for (const node of pool.nodes.values()) {
    if (node.isDedicated) dedicated += 1;
    else lowPriority += 1;
    if (node.state === "preempted") preempted += 1;
    if (node.state === "idle" || node.state === "running") usable += 1;
  }
  return {
    nowMs: Date.now(),
    sampleIntervalMs,
    series: pool.samples,
    numbers: {
      $CurrentDedicatedNodes: dedicated,
      $CurrentLowPriorityNodes: lowPriority,
      $PreemptedNodeCount: preempted,
      $UsableNodeCount: usable,
    },
  };
}

/** One evaluation: the AutoScaleRun as the service reports it, and the outcome when it succeeded. */
export function autoScaleRun(pool: PoolRecord, now: Date, sampleIntervalMs: number, statements: readonly Statement[]) {
  const timestamp = batchTime(now);
  try {
    const outcome = evaluateFormula(statements, autoScaleContext(pool, sampleIntervalMs));
    return { run: { timestamp, results: outcome.results } as Json, outcome };
  } catch (err) {
    if (!(err instanceof FormulaEvaluationError)) throw err;
    // The service's error code for a failed evaluation is unconfirmed.
    return {
      run: { timestamp, error: { code: "AutoScalingFormulaEvaluationError", message: err.message, values: [] } } as Json,
      outcome: undefined,
    };
  }
}

/** Takes one sample of each task series for the pool, from the tasks of the jobs on it. */
export function takeSamples(pool: PoolRecord, jobs: Iterable<JobRecord>, nowMs: number, sampleIntervalMs: number): void {
  pool.nextSampleAtMs = nowMs + sampleIntervalMs;
  let active = 0;
  let running = 0;
  let succeeded = 0;
  let failed = 0;
  for (const job of jobs) {
    if (job.poolId.toLowerCase() !== pool.id.toLowerCase()) continue;
    for (const task of job.tasks.values()) {
      if (task.state === "active") active += job.state === "active" ? 1 : 0;
      else if (task.state === "completed") task.execution.result === "success" ? (succeeded += 1) : (failed += 1);
      else running += 1;
    }
  }
  const push = (name: keyof PoolRecord["samples"], value: number) => {
    const list = pool.samples[name];
    list.push({ atMs: nowMs, value });
    if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
  };
  push("$ActiveTasks", active);
  push("$RunningTasks", running);
  push("$PendingTasks", active + running);
  push("$SucceededTasks", succeeded);
  push("$FailedTasks", failed);
}
