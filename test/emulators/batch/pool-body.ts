import type { Json } from "./account-model.js";
import type { Statement } from "./autoscale-formula.js";
import { errors, propertyError } from "./batch-error.js";
import { validateContainerConfiguration } from "./container-configuration.js";
import { evaluationInterval, parseFormulaOrThrow } from "./pool-autoscale.js";
import { asObject, optionalBoolean, optionalDuration, optionalInteger, refuseUnemulated, requireId, requireObject, requireString } from "./request-validation.js";

/** What the account needs from a valid Pool Add body. */
export interface ValidPoolBody {
  id: string;
  vmSize: string;
  enableAutoScale: boolean;
  resizeTimeoutMs: number;
  taskSlotsPerNode: number;
  targetDedicatedNodes: number | undefined;
  targetLowPriorityNodes: number | undefined;
  /** The autoscale evaluation interval (15 min unless given, and only checked with autoscale on). */
  intervalMs: number;
  formula: string | undefined;
  statements: Statement[] | undefined;
  startTask: Json | undefined;
}

/**
 * Validates one Pool Add body (shared/notes/AZURE-BATCH.md §3 Pool Add, §5): the required
 * properties, resizeTimeout ≥ 5 min, autoscale or fixed targets but not both, the start task, the
 * container configuration; throws the 400 the service gives.
 */
export function validatePoolBody(body: Json, options: { minAutoScaleEvaluationIntervalMs: number; poolIdentities: ReadonlySet<string> }): ValidPoolBody {
  const id = requireId(body);
  const vmSize = requireString(body, "vmSize");
  refuseUnemulated(body, ["cloudServiceConfiguration", "applicationPackageReferences", "certificateReferences", "mountConfiguration", "userAccounts"]);
  const vmConfig = requireObject(body, "virtualMachineConfiguration");
  requireObject(vmConfig, "imageReference", "virtualMachineConfiguration.imageReference");
  requireString(vmConfig, "nodeAgentSKUId", "virtualMachineConfiguration.nodeAgentSKUId");
  validateContainerConfiguration(vmConfig, options.poolIdentities);
  const enableAutoScale = optionalBoolean(body, "enableAutoScale") ?? false;
  const resizeTimeoutMs = optionalDuration(body, "resizeTimeout") ?? 15 * 60_000;
  if (resizeTimeoutMs < 5 * 60_000) throw propertyError(errors.invalidPropertyValue, "resizeTimeout", "must be at least 5 minutes");
  const taskSlotsPerNode = optionalInteger(body, "taskSlotsPerNode", { min: 1, max: 256 }) ?? 1;
  const targetDedicatedNodes = optionalInteger(body, "targetDedicatedNodes", { min: 0, max: 100_000 });
  const targetLowPriorityNodes = optionalInteger(body, "targetLowPriorityNodes", { min: 0, max: 100_000 });
  let statements: Statement[] | undefined;
  let intervalMs = 15 * 60_000;
  let formula: string | undefined;
  if (enableAutoScale) {
    if (targetDedicatedNodes !== undefined || targetLowPriorityNodes !== undefined) {
      throw propertyError(errors.invalidPropertyValue, targetDedicatedNodes !== undefined ? "targetDedicatedNodes" : "targetLowPriorityNodes", "cannot be set when enableAutoScale is true");
    }
    formula = requireString(body, "autoScaleFormula");
    statements = parseFormulaOrThrow(formula);
    intervalMs = evaluationInterval(body, options.minAutoScaleEvaluationIntervalMs);
  } else if (body.autoScaleFormula !== undefined && body.autoScaleFormula !== null) {
    throw propertyError(errors.invalidPropertyValue, "autoScaleFormula", "cannot be set when enableAutoScale is false");
  }
  const startTask = body.startTask === undefined || body.startTask === null ? undefined : asObject(body.startTask, "startTask");
  if (startTask !== undefined) {
    requireString(startTask, "commandLine", "startTask.commandLine");
    refuseUnemulated(startTask, ["resourceFiles"], "startTask.");
  }
  return { id, vmSize, enableAutoScale, resizeTimeoutMs, taskSlotsPerNode, targetDedicatedNodes, targetLowPriorityNodes, intervalMs, formula, statements, startTask };
}
