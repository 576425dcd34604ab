import type { Json } from "./account-model.js";
import type { BatchError } from "./batch-error.js";

/**
 * An Azure Resource Manager error answer: `{"error":{"code","message","target"?}}` (the ARM
 * resource provider contract's error body, which @azure/arm-batch reads as CloudError), with
 * extra headers such as Retry-After or WWW-Authenticate.
 */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ArmError";
  }

  body(): Json {
    return { error: { code: this.code, message: this.message, ...(this.target === undefined ? {} : { target: this.target }) } };
  }
}

/**
 * A refusal of the account model (pool-body.ts and the others throw the data plane's BatchError)
 * as ARM answers it: same status and code (the Batch resource provider's codes for these cases are
 * unconfirmed), the data-plane property named in ARM terms as the target, the reason in the message.
 */
export function armErrorOf(err: BatchError): ArmError {
  const value = (key: string) => err.values.find((v) => v.key === key)?.value;
  const property = value("PropertyName");
  const reason = value("Reason");
  const message = [err.message, property === undefined ? undefined : `Property: ${armPropertyName(property)}.`, reason === undefined ? undefined : `Reason: ${reason}.`].filter((part) => part !== undefined).join(" ");
  return new ArmError(err.status, err.code, message, property === undefined ? undefined : armPropertyName(property), err.headers);
}

/** Where a data-plane Pool Add property sits in an ARM pool body. */
export function armPropertyName(dataPlane: string): string {
  if (dataPlane.startsWith("virtualMachineConfiguration")) {
    return `properties.deploymentConfiguration.${dataPlane.replace(/\.nodeAgentSKUId$/, ".nodeAgentSkuId")}`;
  }
  if (dataPlane === "autoScaleFormula") return "properties.scaleSettings.autoScale.formula";
  if (dataPlane === "autoScaleEvaluationInterval") return "properties.scaleSettings.autoScale.evaluationInterval";
  if (dataPlane === "targetDedicatedNodes" || dataPlane === "targetLowPriorityNodes" || dataPlane === "resizeTimeout") return `properties.scaleSettings.fixedScale.${dataPlane}`;
  if (dataPlane === "id") return "name";
  return `properties.${dataPlane}`;
}
