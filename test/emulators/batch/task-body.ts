import type { Json } from "./account-model.js";
import { errors, propertyError } from "./batch-error.js";
import { asObject, environmentSettings, optionalDuration, optionalInteger, refuseUnemulated, requireId, requireString } from "./request-validation.js";

/** What the account needs from a valid task body. */
export interface ValidTaskBody {
  id: string;
  maxTaskRetryCount: number;
  maxWallClockMs: number;
  requiredSlots: number;
}

/** Validates one Task Add body (shared/notes/AZURE-BATCH.md §3 "Task body"); throws the 400 the service gives for it. */
export function validateTaskBody(body: Json): ValidTaskBody {
  const id = requireId(body);
  requireString(body, "commandLine");
  refuseUnemulated(body, ["outputFiles", "exitConditions", "dependsOn", "multiInstanceSettings", "applicationPackageReferences", "authenticationTokenSettings", "affinityInfo"]);
  if (body.containerSettings !== undefined && body.containerSettings !== null) {
    requireString(asObject(body.containerSettings, "containerSettings"), "imageName", "containerSettings.imageName");
  }
  const resourceFiles = body.resourceFiles;
  if (resourceFiles !== undefined && resourceFiles !== null) {
    if (!Array.isArray(resourceFiles)) throw propertyError(errors.invalidPropertyValue, "resourceFiles", "must be a list");
    resourceFiles.forEach((item, i) => {
      const file = asObject(item, `resourceFiles[${i}]`);
      refuseUnemulated(file, ["autoStorageContainerName", "storageContainerUrl"], `resourceFiles[${i}].`);
      requireString(file, "httpUrl", `resourceFiles[${i}].httpUrl`);
      requireString(file, "filePath", `resourceFiles[${i}].filePath`);
    });
  }
  environmentSettings(body, "environmentSettings");
  const constraints = body.constraints === undefined || body.constraints === null ? {} : asObject(body.constraints, "constraints");
  const maxWallClockMs = optionalDuration(constraints, "maxWallClockTime", "constraints.maxWallClockTime") ?? Number.MAX_SAFE_INTEGER;
  optionalDuration(constraints, "retentionTime", "constraints.retentionTime");
  const maxTaskRetryCount = optionalInteger(constraints, "maxTaskRetryCount", { min: -1, max: 1_000_000 }, "constraints.maxTaskRetryCount") ?? 0;
  const requiredSlots = optionalInteger(body, "requiredSlots", { min: 1, max: 256 }) ?? 1;
  return { id, maxTaskRetryCount, maxWallClockMs, requiredSlots };
}
