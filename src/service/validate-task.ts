import type { LimitsConfig } from "../config/limits.js";
import type { Resources, Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { errors, quote } from "./errors.js";
import { checkBytes, checkCount, checkNoNul } from "./text-limits.js";
import { validateExecutors } from "./validate-executors.js";
import { validateInputs, validateOutputs, validateVolumes } from "./validate-files.js";

/**
 * Checks a task sent to CreateTask against TES 1.1 and this service's limits. Throws the first
 * problem found as an invalid_argument TesError that names the field; changes nothing. The
 * read-only fields (id, state, logs, creation_time) are not checked: CreateTask ignores them.
 */
export function validateTask(task: Task, limits: LimitsConfig): void {
  validateExecutors(task.executors, limits);
  checkBytes("name", task.name, limits.maxNameBytes);
  // name and tags are indexed columns of the store, and PostgreSQL text cannot hold NUL.
  checkNoNul("name", task.name);
  checkBytes("description", task.description, limits.maxDescriptionBytes);
  validateInputs(task.inputs, limits);
  validateOutputs(task.outputs, limits);
  validateVolumes(task.volumes, limits);
  validateTags(task.tags, limits);
  if (task.resources !== undefined) validateResources(task.resources, limits);
}

function validateTags(tags: Readonly<Record<string, string>>, limits: LimitsConfig): void {
  const entries = Object.entries(tags);
  checkCount("tags", entries.length, limits.maxTags);
  for (const [key, value] of entries) {
    checkBytes(`tags key ${quote(key)}`, key, limits.maxTagKeyBytes);
    checkBytes(`tags[${quote(key)}]`, value, limits.maxTagValueBytes);
    checkNoNul(`tags key ${quote(key)}`, key);
    checkNoNul(`tags[${quote(key)}]`, value);
  }
}

function validateResources(resources: Resources, limits: LimitsConfig): void {
  if (resources.cpuCores < 0) throw errors.negativeNumber("resources.cpu_cores", resources.cpuCores);
  for (const [field, value] of [
    ["resources.ram_gb", resources.ramGb],
    ["resources.disk_gb", resources.diskGb],
  ] as const) {
    // proto3 JSON accepts "NaN" and "Infinity" for doubles; neither is an amount of memory.
    if (!Number.isFinite(value)) throw errors.notFinite(field);
    if (value < 0) throw errors.negativeNumber(field, value);
  }
  checkCount("resources.zones", resources.zones.length, limits.maxZones);
  resources.zones.forEach((zone, index) => checkBytes(`resources.zones[${index}]`, zone, limits.maxNameBytes));
  const parameters = Object.entries(resources.backendParameters);
  checkCount("resources.backend_parameters", parameters.length, limits.maxBackendParameters);
  for (const [key, value] of parameters) {
    checkBytes(`resources.backend_parameters[${quote(key)}]`, value, limits.maxBackendParameterValueBytes);
  }
}
