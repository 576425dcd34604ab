import { createHash } from "node:crypto";
import { toJsonString } from "@bufbuild/protobuf";
import type { BatchServiceModels } from "@azure/batch";
import { TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { AzureBatchConfig, ContainerRegistryConfig, VmSize } from "../../../src/config/azure-batch.js";
import { registriesForImages } from "../../../src/config/azure-batch-registries.js";
import type { Attempt } from "../compute-backend.js";
import { shellQuote, startTaskFor } from "./node-preparation.js";

/**
 * What the backend asks Batch for (shared/DESIGN.md "Azure Batch mapping"): pools shared by every
 * task with the same VM size and priority, keyed by a hash of all that shapes a node; one job per
 * pool with the pool's id; one Batch task per attempt, whose command line runs the node-side runner.
 */
export interface PoolPlan {
  /** Pool id = job id. */
  id: string;
  vmSize: VmSize;
  lowPriority: boolean;
  /** The private registries its nodes log in to: those the runner image and the tasks' images pull from. */
  registries: ContainerRegistryConfig[];
  /**
   * The user-assigned identities the pool must have (its registries' and the node identity), by
   * resource id; attached only when the pool is created through ARM (arm-pool-spec.ts).
   */
  identities: string[];
}

/** The registries a pool for these executor images needs (none without a runner image: §5, only container pools log in). */
export function registriesForTask(config: AzureBatchConfig, executorImages: readonly string[]): ContainerRegistryConfig[] {
  if (config.runnerImage === undefined) return [];
  return registriesForImages(config.containerRegistries, [config.runnerImage, ...executorImages]);
}

export function poolPlan(config: AzureBatchConfig, vmSize: VmSize, lowPriority: boolean, registries: readonly ContainerRegistryConfig[] = []): PoolPlan {
  // Everything that shapes a node goes into the key, so a changed image or runner never reuses old
  // pools. Registries count by server and sign-in (user name or identity), never by password.
  const logins = registries.map((r) => [r.server, r.username ?? "", r.identityResourceId ?? ""]);
  const parts: unknown[] = [config.poolPrefix, vmSize.name, lowPriority, config.image, config.nodeAgentSkuId, config.runnerCommand, config.runnerImage ?? "", config.containerRuntime, startTaskFor(config)?.commandLine ?? "", logins];
  // Appended only when set, so that pools without a node identity keep the ids they had before it existed.
  if (config.nodeIdentityResourceId !== undefined) parts.push(["node-identity", config.nodeIdentityResourceId.toLowerCase()]);
  const hash = createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 12);
  const size = vmSize.name.toLowerCase().replace(/^standard_/, "").replace(/[^a-z0-9]/g, "");
  const identities = new Map<string, string>();
  for (const id of [...registries.map((r) => r.identityResourceId), config.nodeIdentityResourceId]) if (id !== undefined) identities.set(id.toLowerCase(), identities.get(id.toLowerCase()) ?? id);
  return { id: `${config.poolPrefix}-${size}-${lowPriority ? "lp" : "dd"}-${hash}`, vmSize, lowPriority, registries: [...registries], identities: [...identities.values()] };
}

/** A registry as Pool Add takes it (§5 containerConfiguration): a user name and password, or an identity reference. */
function batchRegistry(registry: ContainerRegistryConfig): BatchServiceModels.ContainerRegistry {
  if (registry.identityResourceId !== undefined) return { registryServer: registry.server, identityReference: { resourceId: registry.identityResourceId } };
  return { registryServer: registry.server, userName: registry.username ?? "", password: registry.password ?? "" };
}

/**
 * Options of the container the Batch task runs the runner in: the node's Docker socket, so the
 * runner starts the executors as sibling containers on the node's daemon (Batch maps the task
 * directories into the container at their node paths, so the runner's bind mounts name node paths).
 */
export const RUNNER_CONTAINER_RUN_OPTIONS = "--rm -v /var/run/docker.sock:/var/run/docker.sock";

/**
 * Scales on pending tasks (active + running), down to zero when idle, one task per node: the largest
 * pending count over the window (shared/notes/AZURE-BATCH.md §5 "Scale-to-zero formula"). A pool
 * younger than the window keeps at least one node, so it does not shrink on the samples taken before
 * its first tasks arrived (as ga4gh-tes's start-up guard does). taskcompletion lets running tasks
 * finish when the pool shrinks.
 */
export function autoScaleFormula(config: AzureBatchConfig, plan: PoolPlan, createdAt: Date): string {
  const target = plan.lowPriority ? "$TargetLowPriorityNodes" : "$TargetDedicatedNodes";
  const other = plan.lowPriority ? "$TargetDedicatedNodes" : "$TargetLowPriorityNodes";
  return [
    `span = TimeInterval_Second * ${config.autoScaleWindowSeconds};`,
    `young = time() - time("${createdAt.toISOString()}") < span;`,
    `seen = $PendingTasks.GetSamplePercent(span) < 1 ? 0 : max($PendingTasks.GetSample(span));`,
    `pending = young ? max(1, seen) : seen;`,
    `${target} = min(${config.maxNodesPerPool}, pending);`,
    `${other} = 0;`,
    `$NodeDeallocationOption = taskcompletion;`,
  ].join("\n");
}

export function poolAddParameter(config: AzureBatchConfig, plan: PoolPlan, createdAt = new Date()): BatchServiceModels.PoolAddParameter {
  const pool: BatchServiceModels.PoolAddParameter = {
    id: plan.id,
    displayName: `TES ${plan.vmSize.name} ${plan.lowPriority ? "low-priority" : "dedicated"}`,
    vmSize: plan.vmSize.name,
    virtualMachineConfiguration: {
      imageReference: config.image,
      nodeAgentSKUId: config.nodeAgentSkuId,
      // A container-enabled pool: Docker on every node, the runner image pulled as the node starts,
      // and the registries logged in by Batch itself, so their passwords never reach a task.
      ...(config.runnerImage === undefined
        ? {}
        : { containerConfiguration: { containerImageNames: [config.runnerImage], ...(plan.registries.length === 0 ? {} : { containerRegistries: plan.registries.map(batchRegistry) }) } }),
    },
    enableAutoScale: true,
    autoScaleFormula: autoScaleFormula(config, plan, createdAt),
    autoScaleEvaluationInterval: config.autoScaleEvaluationInterval,
    taskSlotsPerNode: 1,
    metadata: [{ name: "tes-pool", value: "1" }],
  };
  const startTask = startTaskFor(config);
  if (startTask !== undefined) pool.startTask = startTask;
  return pool;
}

export function jobAddParameter(plan: PoolPlan): BatchServiceModels.JobAddParameter {
  // §7: one job per pool with the pool's id; nothing automatic happens when tasks end or fail.
  return { id: plan.id, poolInfo: { poolId: plan.id }, onAllTasksComplete: "noaction", onTaskFailure: "noaction" };
}

/** Batch task ids: ≤ 64 of [A-Za-z0-9_-] (§3 "Task body"); other attempt ids are hashed. */
export function batchTaskId(attemptId: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(attemptId)) return attemptId;
  return `h-${createHash("sha256").update(attemptId).digest("hex").slice(0, 40)}`;
}

/** The name of the environment setting that carries the TES task document to the node. */
export const TASK_DOCUMENT_ENV = "TES_TASK_DOCUMENT";
/** The task document's resource file, relative to the task's working directory. */
export const TASK_DOCUMENT_FILE = "task.json";
/** Where the runner writes its result document, relative to the task directory (files API path). */
export const RESULT_FILE = "wd/result.json";


/**
 * The Batch task of an attempt. `documentUrl` is the task document's read-only, short-lived blob URL
 * (task-documents.ts), which Batch downloads into the working directory as a resource file; without
 * one (AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT, development only) the document rides in an
 * environment setting, visible to anyone who can read the account's tasks.
 */
export function taskAddParameter(config: AzureBatchConfig, attempt: Attempt, documentUrl?: string): BatchServiceModels.TaskAddParameter {
  // Batch runs the command line without a shell (§3), so the script runs under /bin/sh -c; the
  // runner command itself may use $AZ_BATCH_* variables.
  const wd = '"$AZ_BATCH_TASK_WORKING_DIR"';
  const run = `exec ${config.runnerCommand} run --task ${wd}/task.json --workdir ${wd}/attempt --result ${wd}/result.json --attempt-id ${shellQuote(attempt.attemptId)} --runtime ${config.containerRuntime}`;
  const script = documentUrl === undefined ? `printf '%s' "$${TASK_DOCUMENT_ENV}" > ${wd}/task.json && ${run}` : run;
  return {
    id: batchTaskId(attempt.attemptId),
    displayName: `TES task ${attempt.taskId} attempt ${attempt.attempt}`.slice(0, 1024),
    commandLine: `/bin/sh -c ${shellQuote(script)}`,
    ...(documentUrl === undefined
      ? { environmentSettings: [{ name: TASK_DOCUMENT_ENV, value: toJsonString(TaskSchema, attempt.task) }] }
      : { resourceFiles: [{ httpUrl: documentUrl, filePath: TASK_DOCUMENT_FILE }] }),
    // Retries are the worker's (a new attempt each); Batch keeps the files until we delete the task.
    constraints: { maxTaskRetryCount: 0, retentionTime: "P7D" },
    userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } },
    // On a container pool a task must run in a container (§5). No `registry` here: the pool's
    // registries serve the task's image, and the task's JSON stays free of credentials.
    ...(config.runnerImage === undefined ? {} : { containerSettings: { imageName: config.runnerImage, containerRunOptions: RUNNER_CONTAINER_RUN_OPTIONS } }),
  };
}
