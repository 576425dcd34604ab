import type { Json, PoolRecord } from "./account-model.js";
import { ArmError } from "./arm-error.js";
import { batchTime } from "./batch-error.js";
import { identityIds } from "./pool-identity.js";

/**
 * An ARM pool (Microsoft.Batch/batchAccounts/pools, api-version 2023-11-01, the shape
 * @azure/arm-batch 9.1.0 serializes) turned into the account's own Pool Add body, so that a pool
 * made through ARM is a pool of the same account model, checked by the same rules (pool-body.ts),
 * plus the identities ARM attaches. And back: a pool record in its ARM wire form.
 *
 * ARM regroups the data plane's properties: `deploymentConfiguration.virtualMachineConfiguration`
 * (with `nodeAgentSkuId`), `scaleSettings.autoScale {formula, evaluationInterval}` or
 * `scaleSettings.fixedScale {targetDedicatedNodes, targetLowPriorityNodes, resizeTimeout,
 * nodeDeallocationOption}` (neither: fixed at 0 nodes), `interNodeCommunication` Enabled/Disabled,
 * PascalCase enums. Properties the emulator does not emulate are refused, as on the data plane.
 */
export interface ArmPoolRequest {
  /** The data-plane Pool Add body the account checks and stores. */
  addBody: Json;
  identities: string[];
  /** The ARM properties as received, echoed back by GET. */
  armProperties: Json;
}

const USER_ASSIGNED_IDENTITY = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i;
/** Writable pool properties the emulator carries into the account model. */
const CARRIED = ["displayName", "vmSize", "deploymentConfiguration", "scaleSettings", "interNodeCommunication", "taskSlotsPerNode", "taskSchedulingPolicy", "metadata", "startTask", "targetNodeCommunicationMode"];
/** Writable pool properties ARM takes that the emulator does not emulate (refused, never ignored). */
const UNEMULATED = ["networkConfiguration", "userAccounts", "certificates", "applicationPackages", "applicationLicenses", "mountConfiguration", "resourceTags", "upgradePolicy"];

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

function invalid(target: string, reason: string): ArmError {
  return new ArmError(400, "InvalidRequestContent", `The request content was invalid: ${target} ${reason}.`, target);
}

function objectAt(parent: Json, key: string, path: string): Json | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid(path, "must be an object");
  return value;
}

export function armPoolRequest(poolName: string, body: Json): ArmPoolRequest {
  for (const key of Object.keys(body)) {
    if (!["identity", "properties", "id", "name", "type", "etag"].includes(key)) throw invalid(key, "is not a property of a pool");
  }
  const properties = objectAt(body, "properties", "properties") ?? {};
  for (const key of Object.keys(properties)) {
    if (UNEMULATED.includes(key)) {
      throw new ArmError(400, "UnsupportedProperty", `properties.${key} is accepted by Azure Batch but not emulated; the emulator refuses it rather than ignore it.`, `properties.${key}`);
    }
    if (!CARRIED.includes(key)) throw invalid(`properties.${key}`, "is not a writable property of a pool");
  }
  const identities = identitiesOf(body);
  const addBody: Json = { id: poolName };
  for (const key of ["displayName", "vmSize", "taskSlotsPerNode", "taskSchedulingPolicy", "metadata", "targetNodeCommunicationMode"]) {
    if (properties[key] !== undefined) addBody[key] = properties[key];
  }
  if (properties.interNodeCommunication !== undefined) addBody.enableInterNodeCommunication = String(properties.interNodeCommunication).toLowerCase() === "enabled";
  const deployment = objectAt(properties, "deploymentConfiguration", "properties.deploymentConfiguration");
  if (deployment !== undefined) {
    if (deployment.cloudServiceConfiguration !== undefined) addBody.cloudServiceConfiguration = deployment.cloudServiceConfiguration;
    const vm = objectAt(deployment, "virtualMachineConfiguration", "properties.deploymentConfiguration.virtualMachineConfiguration");
    if (vm !== undefined) {
      const { nodeAgentSkuId, ...rest } = vm;
      addBody.virtualMachineConfiguration = { ...rest, ...(nodeAgentSkuId === undefined ? {} : { nodeAgentSKUId: nodeAgentSkuId }) };
    }
  }
  const scale = objectAt(properties, "scaleSettings", "properties.scaleSettings") ?? {};
  const auto = objectAt(scale, "autoScale", "properties.scaleSettings.autoScale");
  const fixed = objectAt(scale, "fixedScale", "properties.scaleSettings.fixedScale");
  if (auto !== undefined && fixed !== undefined) throw invalid("properties.scaleSettings", "must hold autoScale or fixedScale, not both");
  if (auto !== undefined) {
    addBody.enableAutoScale = true;
    addBody.autoScaleFormula = auto.formula;
    if (auto.evaluationInterval !== undefined) addBody.autoScaleEvaluationInterval = auto.evaluationInterval;
  } else {
    // The SDK's documentation of scaleSettings: unset, the pool is fixed at 0 dedicated nodes.
    addBody.enableAutoScale = false;
    for (const key of ["targetDedicatedNodes", "targetLowPriorityNodes", "resizeTimeout"]) if (fixed?.[key] !== undefined) addBody[key] = fixed[key];
  }
  const startTask = objectAt(properties, "startTask", "properties.startTask");
  if (startTask !== undefined) addBody.startTask = startTask;
  return { addBody, identities, armProperties: properties };
}

/** `identity`: UserAssigned with at least one user-assigned identity resource id as key, or None with none. */
function identitiesOf(body: Json): string[] {
  const identity = objectAt(body, "identity", "identity");
  if (identity === undefined) return [];
  const type = identity.type;
  if (typeof type !== "string" || !["userassigned", "none"].includes(type.toLowerCase())) throw invalid("identity.type", "must be UserAssigned or None");
  const assigned = objectAt(identity, "userAssignedIdentities", "identity.userAssignedIdentities") ?? {};
  const ids = Object.keys(assigned);
  if (type.toLowerCase() === "none") {
    if (ids.length > 0) throw invalid("identity.userAssignedIdentities", "must be empty when identity.type is None");
    return [];
  }
  if (ids.length === 0) throw invalid("identity.userAssignedIdentities", "must name at least one identity when identity.type is UserAssigned");
  for (const id of ids) {
    if (!USER_ASSIGNED_IDENTITY.test(id)) throw invalid(`identity.userAssignedIdentities['${id}']`, "must be a user-assigned identity's resource id");
    if (!isObject(assigned[id])) throw invalid(`identity.userAssignedIdentities['${id}']`, "must be an object ({})");
  }
  return ids;
}

const pascal = (value: string) => value.charAt(0).toUpperCase() + value.slice(1);

/** The pool as ARM's GET and PUT answer it. */
export function armPoolWire(pool: PoolRecord, accountPath: string): Json {
  let dedicated = 0;
  let lowPriority = 0;
  for (const node of pool.nodes.values()) {
    if (node.isDedicated) dedicated += 1;
    else lowPriority += 1;
  }
  const spec = pool.spec;
  const arm = pool.armProperties;
  const vm = spec.virtualMachineConfiguration as Json | undefined;
  const deploymentConfiguration =
    arm?.deploymentConfiguration ??
    (vm === undefined ? undefined : { virtualMachineConfiguration: Object.fromEntries(Object.entries(vm).map(([key, value]) => [key === "nodeAgentSKUId" ? "nodeAgentSkuId" : key, value])) });
  const scaleSettings = pool.enableAutoScale
    ? { autoScale: { formula: pool.autoScaleFormula, evaluationInterval: pool.autoScaleEvaluationInterval } }
    : { fixedScale: { targetDedicatedNodes: pool.targetDedicatedNodes, targetLowPriorityNodes: pool.targetLowPriorityNodes, resizeTimeout: pool.resizeTimeout } };
  const properties: Json = {
    lastModified: batchTime(pool.lastModified),
    creationTime: batchTime(pool.creationTime),
    provisioningState: pool.state === "deleting" ? "Deleting" : "Succeeded",
    provisioningStateTransitionTime: batchTime(pool.stateTransitionTime),
    allocationState: pascal(pool.allocationState),
    allocationStateTransitionTime: batchTime(pool.allocationStateTransitionTime),
    vmSize: pool.vmSize,
    ...(deploymentConfiguration === undefined ? {} : { deploymentConfiguration }),
    scaleSettings,
    currentDedicatedNodes: dedicated,
    currentLowPriorityNodes: lowPriority,
    interNodeCommunication: spec.enableInterNodeCommunication === true ? "Enabled" : "Disabled",
    taskSlotsPerNode: pool.taskSlotsPerNode,
    currentNodeCommunicationMode: "Classic",
  };
  if (pool.autoScaleRun !== undefined) properties.autoScaleRun = pool.autoScaleRun;
  for (const key of ["displayName", "metadata", "startTask", "targetNodeCommunicationMode"]) {
    const value = arm?.[key] ?? spec[key];
    if (value !== undefined && value !== null) properties[key] = value;
  }
  return {
    id: `${accountPath}/pools/${pool.id}`,
    name: pool.id,
    type: "Microsoft.Batch/batchAccounts/pools",
    etag: `W/"${pool.eTag}"`,
    ...(pool.identities.length === 0
      ? {}
      : { identity: { type: "UserAssigned", userAssignedIdentities: Object.fromEntries(pool.identities.map((id) => [id, identityIds(id)])) } }),
    properties,
  };
}
