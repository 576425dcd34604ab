import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { evaluateFormula, FormulaEvaluationError, FormulaSyntaxError, parseFormula, type FormulaContext, type Sample } from "./autoscale-formula.js";

// The formulas of shared/notes/AZURE-BATCH.md §5 "Scale-to-zero formula", evaluated on known samples.
const NOW = Date.parse("2026-01-01T12:00:00Z");

function context(pending: number[], options: { sampleIntervalMs?: number } = {}): FormulaContext {
  const interval = options.sampleIntervalMs ?? 30_000;
  // Newest sample last, one per interval, the newest at NOW.
  const series = (values: number[]): Sample[] => values.map((value, i) => ({ atMs: NOW - (values.length - 1 - i) * interval, value }));
  return {
    nowMs: NOW,
    sampleIntervalMs: interval,
    series: { $ActiveTasks: series(pending), $RunningTasks: series(pending.map(() => 0)), $PendingTasks: series(pending), $SucceededTasks: [], $FailedTasks: [] },
    numbers: { $CurrentDedicatedNodes: 0, $CurrentLowPriorityNodes: 2, $PreemptedNodeCount: 0, $UsableNodeCount: 2 },
  };
}

const DOC_FORMULA = `
  // The documentation's pending-tasks example, adapted to scale to zero.
  pct = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
  n = pct < 70 ? 0 : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
  $TargetLowPriorityNodes = min(10, n);
  $TargetDedicatedNodes = 0;
  $NodeDeallocationOption = taskcompletion;`;

describe("autoscale formula evaluation", () => {
  test("the documentation's pending-tasks formula follows the average of the last 180 s of samples", () => {
    const outcome = evaluateFormula(parseFormula(DOC_FORMULA), context([2, 4, 6, 8, 10, 12, 14]));
    // 180 s at 30 s = 6 expected samples; the window holds 7 (both ends inclusive): avg(2..14) = 8.
    assert.equal(outcome.targetLowPriorityNodes, 8);
    assert.equal(outcome.targetDedicatedNodes, 0);
    assert.equal(outcome.nodeDeallocationOption, "taskcompletion");
    assert.match(outcome.results, /^\$TargetDedicatedNodes=0;\$TargetLowPriorityNodes=8;\$NodeDeallocationOption=taskcompletion;pct=100;n=8$/);
  });

  test("too few samples (a new pool) gives zero nodes through GetSamplePercent", () => {
    const outcome = evaluateFormula(parseFormula(DOC_FORMULA), context([5, 5]));
    assert.equal(outcome.targetLowPriorityNodes, 0);
  });

  test("the ga4gh-tes formula: min of the last 90 s, with a 10 % sample floor and a start-up time", () => {
    const formula = `
      lifespan = time() - time("2026-01-01T11:50:00Z");
      span = TimeInterval_Second * 90;
      startup = TimeInterval_Minute * 2;
      $TargetLowPriorityNodes = lifespan > startup ? min($PendingTasks.GetSample(span, 10)) : 1;
      $NodeDeallocationOption = taskcompletion;`;
    assert.equal(evaluateFormula(parseFormula(formula), context([3, 5, 4, 6])).targetLowPriorityNodes, 3);
  });

  test("aliases, ternaries and plain node counts", () => {
    const outcome = evaluateFormula(parseFormula("$TargetDedicated = $CurrentLowPriorityNodes > 1 ? 3.9 : 1; $TargetLowPriority = max(0, -2);"), context([1]));
    assert.equal(outcome.targetDedicatedNodes, 3);
    assert.equal(outcome.targetLowPriorityNodes, 0);
    assert.equal(outcome.nodeDeallocationOption, "requeue");
  });

  test("a sample series used as a number, missing samples and unknown names are evaluation errors", () => {
    assert.throws(() => evaluateFormula(parseFormula("$TargetDedicatedNodes = $PendingTasks;"), context([1])), FormulaEvaluationError);
    assert.throws(() => evaluateFormula(parseFormula("$TargetDedicatedNodes = avg($PendingTasks.GetSample(60 * TimeInterval_Second, 90));"), context([1])), FormulaEvaluationError);
    assert.throws(() => evaluateFormula(parseFormula("$TargetDedicatedNodes = nothing;"), context([1])), FormulaEvaluationError);
    assert.throws(() => evaluateFormula(parseFormula("$NodeDeallocationOption = sometimes;"), context([1])), FormulaEvaluationError);
  });

  test("syntax errors, read-only targets and the 8 KB / 100 statement limits are syntax errors", () => {
    assert.throws(() => parseFormula("$TargetDedicatedNodes = (1 + ;"), FormulaSyntaxError);
    assert.throws(() => parseFormula("$PendingTasks = 3;"), FormulaSyntaxError);
    assert.throws(() => parseFormula(`$TargetDedicatedNodes = ${"1+".repeat(5000)}1;`), FormulaSyntaxError);
    assert.throws(() => parseFormula(Array.from({ length: 101 }, (_, i) => `v${i} = 1;`).join("")), FormulaSyntaxError);
  });
});
