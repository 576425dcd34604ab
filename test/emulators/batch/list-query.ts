import { errors, queryError } from "./batch-error.js";
import type { JobRecord, Json, NodeRecord, PoolRecord, TaskRecord } from "./account-model.js";
import { compileFilter, type FilterSchema } from "./odata-filter.js";

/**
 * List queries: `$filter` (per resource, shared/notes/AZURE-BATCH.md §3), `$select`, `maxresults`
 * (≤ 1000, default 1000) and paging with an absolute `odata.nextLink` that keeps api-version (§2
 * "Paging"). Pages are cut by id (case-insensitive) so a page never repeats or skips an item that
 * was there for the whole listing.
 */
const CMP = ["eq", "ne", "gt", "ge", "lt", "le"] as const;
const EQ = ["eq", "ne"] as const;
const ID = ["startswith", ...CMP] as const;

export const taskFilter: FilterSchema<TaskRecord> = {
  id: { type: "id", operators: ID, get: (t) => t.id },
  state: { type: "enum", operators: EQ, get: (t) => t.state },
  stateTransitionTime: { type: "datetime", operators: CMP, get: (t) => t.stateTransitionTime },
  creationTime: { type: "datetime", operators: CMP, get: (t) => t.creationTime },
  lastModifiedTime: { type: "datetime", operators: CMP, get: (t) => t.lastModified },
  "executionInfo/startTime": { type: "datetime", operators: CMP, get: (t) => t.execution.startTime },
  "executionInfo/endTime": { type: "datetime", operators: CMP, get: (t) => t.execution.endTime },
  "executionInfo/exitCode": { type: "number", operators: CMP, get: (t) => t.execution.exitCode },
  "executionInfo/result": { type: "enum", operators: EQ, get: (t) => t.execution.result },
};

export const poolFilter: FilterSchema<PoolRecord> = {
  id: { type: "id", operators: ID, get: (p) => p.id },
  state: { type: "enum", operators: EQ, get: (p) => p.state },
  allocationState: { type: "enum", operators: EQ, get: (p) => p.allocationState },
  vmSize: { type: "id", operators: EQ, get: (p) => p.vmSize },
  creationTime: { type: "datetime", operators: CMP, get: (p) => p.creationTime },
  stateTransitionTime: { type: "datetime", operators: CMP, get: (p) => p.stateTransitionTime },
  lastModified: { type: "datetime", operators: CMP, get: (p) => p.lastModified },
};

export const jobFilter: FilterSchema<JobRecord> = {
  id: { type: "id", operators: ID, get: (j) => j.id },
  state: { type: "enum", operators: EQ, get: (j) => j.state },
  "executionInfo/poolId": { type: "id", operators: EQ, get: (j) => j.poolId },
  creationTime: { type: "datetime", operators: CMP, get: (j) => j.creationTime },
  stateTransitionTime: { type: "datetime", operators: CMP, get: (j) => j.stateTransitionTime },
};

export const nodeFilter: FilterSchema<NodeRecord> = {
  id: { type: "id", operators: ID, get: (n) => n.id },
  state: { type: "enum", operators: EQ, get: (n) => n.state },
  stateTransitionTime: { type: "datetime", operators: CMP, get: (n) => n.stateTransitionTime },
  lastBootTime: { type: "datetime", operators: CMP, get: (n) => n.lastBootTime },
  allocationTime: { type: "datetime", operators: CMP, get: (n) => n.allocationTime },
  "startTaskInfo/state": { type: "enum", operators: EQ, get: (n) => n.startTaskInfo?.state as string | undefined },
  "startTaskInfo/result": { type: "enum", operators: EQ, get: (n) => n.startTaskInfo?.result as string | undefined },
  "startTaskInfo/exitCode": { type: "number", operators: CMP, get: (n) => n.startTaskInfo?.exitCode as number | undefined },
};

/** Top-level properties `$select` may name, per resource (the SDK 10.2.0 models). */
export const selectable = {
  task: new Set(["id", "displayName", "url", "eTag", "lastModified", "creationTime", "exitConditions", "state", "stateTransitionTime", "previousState", "previousStateTransitionTime", "commandLine", "containerSettings", "resourceFiles", "outputFiles", "environmentSettings", "affinityInfo", "constraints", "requiredSlots", "userIdentity", "executionInfo", "nodeInfo", "multiInstanceSettings", "stats", "dependsOn", "applicationPackageReferences", "authenticationTokenSettings"]),
  job: new Set(["id", "displayName", "usesTaskDependencies", "url", "eTag", "lastModified", "creationTime", "state", "stateTransitionTime", "previousState", "previousStateTransitionTime", "priority", "allowTaskPreemption", "maxParallelTasks", "constraints", "jobManagerTask", "jobPreparationTask", "jobReleaseTask", "commonEnvironmentSettings", "poolInfo", "onAllTasksComplete", "onTaskFailure", "networkConfiguration", "metadata", "executionInfo", "stats"]),
  pool: new Set(["id", "displayName", "url", "eTag", "lastModified", "creationTime", "state", "stateTransitionTime", "allocationState", "allocationStateTransitionTime", "vmSize", "cloudServiceConfiguration", "virtualMachineConfiguration", "resizeTimeout", "resizeErrors", "currentDedicatedNodes", "currentLowPriorityNodes", "targetDedicatedNodes", "targetLowPriorityNodes", "enableAutoScale", "autoScaleFormula", "autoScaleEvaluationInterval", "autoScaleRun", "enableInterNodeCommunication", "networkConfiguration", "startTask", "certificateReferences", "applicationPackageReferences", "applicationLicenses", "taskSlotsPerNode", "taskSchedulingPolicy", "userAccounts", "metadata", "stats", "mountConfiguration", "identity", "targetNodeCommunicationMode", "currentNodeCommunicationMode"]),
  node: new Set(["id", "url", "state", "schedulingState", "stateTransitionTime", "lastBootTime", "allocationTime", "ipAddress", "affinityId", "vmSize", "totalTasksRun", "runningTasksCount", "runningTaskSlotsCount", "totalTasksSucceeded", "recentTasks", "startTask", "startTaskInfo", "certificateReferences", "errors", "isDedicated", "endpointConfiguration", "nodeAgentInfo", "virtualMachineInfo"]),
} as const;

export function parseSelect(value: string | null, allowed: ReadonlySet<string>): string[] | undefined {
  if (value === null) return undefined;
  const names = value.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!allowed.has(name)) throw queryError("$select", value, `'${name}' is not a property of this resource`);
  }
  return names;
}

export function applySelect(item: Json, select: readonly string[] | undefined): Json {
  if (select === undefined) return item;
  const out: Json = {};
  for (const name of select) if (item[name] !== undefined) out[name] = item[name];
  return out;
}

/** `$expand` (stats and the like) is not emulated: refused rather than ignored. */
export function refuseExpand(params: URLSearchParams): void {
  const expand = params.get("$expand");
  if (expand !== null) throw queryError("$expand", expand, "$expand is not emulated by the Batch emulator");
}

export function maxResults(params: URLSearchParams): number {
  const raw = params.get("maxresults");
  if (raw === null) return 1000;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 1 && value <= 1000)) {
    throw errors.outOfRangeQueryParameterValue({ key: "QueryParameterName", value: "maxresults" }, { key: "QueryParameterValue", value: raw });
  }
  return value;
}

export interface Page<T> {
  items: T[];
  /** The id to continue after, when more items follow. */
  continueAfter?: string;
}

export function page<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  params: URLSearchParams,
  schema: FilterSchema<T>,
): Page<T> {
  const filterText = params.get("$filter");
  const predicate = filterText === null ? () => true : compileFilter(filterText, schema);
  const limit = maxResults(params);
  const after = params.get("$skiptoken");
  const sorted = items
    .map((item) => ({ key: idOf(item).toLowerCase(), item }))
    .filter((entry) => after === null || entry.key > after)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: T[] = [];
  let last: string | undefined;
  for (const entry of sorted) {
    if (!predicate(entry.item)) continue;
    if (out.length === limit) return { items: out, ...(last === undefined ? {} : { continueAfter: last }) };
    out.push(entry.item);
    last = entry.key;
  }
  return { items: out };
}

/** The absolute next link: the same query with the skip token moved on. */
export function nextLink(baseUrl: string, rawPath: string, params: URLSearchParams, continueAfter: string): string {
  const next = new URLSearchParams();
  for (const [name, value] of params) if (name !== "$skiptoken") next.append(name, value);
  next.set("$skiptoken", continueAfter);
  return `${baseUrl}${rawPath}?${next.toString()}`;
}
