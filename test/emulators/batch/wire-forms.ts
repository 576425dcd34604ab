import { identityIds } from "./pool-identity.js";
import type { JobRecord, Json, NodeRecord, PoolRecord, TaskRecord } from "./account-model.js";
import { batchTime } from "./batch-error.js";
import { UNBOUNDED } from "./iso-duration.js";

/**
 * The records as the service writes them on the wire (CloudTask, CloudJob, CloudPool, ComputeNode):
 * camelCase, timestamps with 7 fractional digits, defaults filled in as the service reports them.
 */
const DEFAULT_RETENTION = "P7D";

export class WireForms {
  constructor(private readonly baseUrl: () => string) {}

  private url(path: string): string {
    return `${this.baseUrl()}${path}`;
  }


  executionInfo(task: TaskRecord): Json {
    const e = task.execution;
    const info: Json = { retryCount: e.retryCount, requeueCount: e.requeueCount };
    if (e.startTime !== undefined) info.startTime = batchTime(e.startTime);
    if (e.endTime !== undefined) info.endTime = batchTime(e.endTime);
    if (e.exitCode !== undefined) info.exitCode = e.exitCode;
    if (e.result !== undefined) info.result = e.result;
    if (e.failureInfo !== undefined) info.failureInfo = e.failureInfo;
    if (e.lastRetryTime !== undefined) info.lastRetryTime = batchTime(e.lastRetryTime);
    if (e.lastRequeueTime !== undefined) info.lastRequeueTime = batchTime(e.lastRequeueTime);
    return info;
  }

  task(task: TaskRecord): Json {
    const spec = task.spec;
    const constraints = (spec.constraints ?? {}) as Json;
    const wire: Json = {
      id: task.id,
      url: this.url(`/jobs/${task.job.id}/tasks/${task.id}`),
      eTag: task.eTag,
      creationTime: batchTime(task.creationTime),
      lastModified: batchTime(task.lastModified),
      state: task.state,
      stateTransitionTime: batchTime(task.stateTransitionTime),
      commandLine: spec.commandLine,
      constraints: {
        maxWallClockTime: typeof constraints.maxWallClockTime === "string" ? constraints.maxWallClockTime : UNBOUNDED,
        retentionTime: typeof constraints.retentionTime === "string" ? constraints.retentionTime : DEFAULT_RETENTION,
        maxTaskRetryCount: task.maxTaskRetryCount,
      },
      requiredSlots: task.requiredSlots,
      userIdentity: spec.userIdentity ?? { autoUser: { scope: "pool", elevationLevel: "nonadmin" } },
      executionInfo: this.executionInfo(task),
    };
    for (const key of ["displayName", "containerSettings", "resourceFiles", "environmentSettings"]) {
      if (spec[key] !== undefined && spec[key] !== null) wire[key] = spec[key];
    }
    if (task.previousState !== undefined) wire.previousState = task.previousState;
    if (task.previousStateTransitionTime !== undefined) wire.previousStateTransitionTime = batchTime(task.previousStateTransitionTime);
    const node = task.node ?? task.filesNode;
    if (node !== undefined) {
      const root = `workitems/${task.job.id}/job-1/${task.id}`;
      wire.nodeInfo = {
        affinityId: `TVM:${node.id}`,
        nodeUrl: this.url(`/pools/${node.pool.id}/nodes/${node.id}`),
        poolId: node.pool.id,
        nodeId: node.id,
        taskRootDirectory: root,
        taskRootDirectoryUrl: this.url(`/pools/${node.pool.id}/nodes/${node.id}/files/${root}`),
      };
    }
    return wire;
  }

  job(job: JobRecord): Json {
    const spec = job.spec;
    const constraints = (spec.constraints ?? {}) as Json;
    const executionInfo: Json = { startTime: batchTime(job.executionInfo.startTime as Date), poolId: job.poolId };
    if (job.executionInfo.endTime instanceof Date) executionInfo.endTime = batchTime(job.executionInfo.endTime);
    if (typeof job.executionInfo.terminateReason === "string") executionInfo.terminateReason = job.executionInfo.terminateReason;
    const wire: Json = {
      id: job.id,
      url: this.url(`/jobs/${job.id}`),
      eTag: job.eTag,
      lastModified: batchTime(job.lastModified),
      creationTime: batchTime(job.creationTime),
      state: job.state,
      stateTransitionTime: batchTime(job.stateTransitionTime),
      priority: typeof spec.priority === "number" ? spec.priority : 0,
      maxParallelTasks: typeof spec.maxParallelTasks === "number" ? spec.maxParallelTasks : -1,
      allowTaskPreemption: spec.allowTaskPreemption === true,
      usesTaskDependencies: false,
      constraints: {
        maxWallClockTime: typeof constraints.maxWallClockTime === "string" ? constraints.maxWallClockTime : UNBOUNDED,
        maxTaskRetryCount: typeof constraints.maxTaskRetryCount === "number" ? constraints.maxTaskRetryCount : 0,
      },
      poolInfo: { poolId: job.poolId },
      onAllTasksComplete: String(spec.onAllTasksComplete ?? "noaction").toLowerCase(),
      onTaskFailure: String(spec.onTaskFailure ?? "noaction").toLowerCase(),
      executionInfo,
    };
    for (const key of ["displayName", "commonEnvironmentSettings", "metadata"]) {
      if (spec[key] !== undefined && spec[key] !== null) wire[key] = spec[key];
    }
    if (job.previousState !== undefined) wire.previousState = job.previousState;
    if (job.previousStateTransitionTime !== undefined) wire.previousStateTransitionTime = batchTime(job.previousStateTransitionTime);
    return wire;
  }

  pool(pool: PoolRecord): Json {
    const spec = pool.spec;
    let dedicated = 0;
    let lowPriority = 0;
    for (const node of pool.nodes.values()) {
      if (node.isDedicated) dedicated += 1;
      else lowPriority += 1;
    }
    const wire: Json = {
      id: pool.id,
      url: this.url(`/pools/${pool.id}`),
      eTag: pool.eTag,
      lastModified: batchTime(pool.lastModified),
      creationTime: batchTime(pool.creationTime),
      state: pool.state,
      stateTransitionTime: batchTime(pool.stateTransitionTime),
      allocationState: pool.allocationState,
      allocationStateTransitionTime: batchTime(pool.allocationStateTransitionTime),
      vmSize: pool.vmSize,
      virtualMachineConfiguration: spec.virtualMachineConfiguration,
      resizeTimeout: pool.resizeTimeout,
      currentDedicatedNodes: dedicated,
      currentLowPriorityNodes: lowPriority,
      targetDedicatedNodes: pool.targetDedicatedNodes,
      targetLowPriorityNodes: pool.targetLowPriorityNodes,
      enableAutoScale: pool.enableAutoScale,
      enableInterNodeCommunication: spec.enableInterNodeCommunication === true,
      taskSlotsPerNode: pool.taskSlotsPerNode,
      taskSchedulingPolicy: spec.taskSchedulingPolicy ?? { nodeFillType: "Spread" },
      currentNodeCommunicationMode: "classic",
    };
    // §5: resizeErrors are reported once the pool is back to steady.
    if (pool.allocationState === "steady" && pool.resizeErrors.length > 0) wire.resizeErrors = pool.resizeErrors;
    if (pool.enableAutoScale) {
      wire.autoScaleFormula = pool.autoScaleFormula;
      wire.autoScaleEvaluationInterval = pool.autoScaleEvaluationInterval;
      if (pool.autoScaleRun !== undefined) wire.autoScaleRun = pool.autoScaleRun;
    }
    for (const key of ["displayName", "startTask", "metadata", "networkConfiguration", "targetNodeCommunicationMode"]) {
      if (spec[key] !== undefined && spec[key] !== null) wire[key] = spec[key];
    }
    // §5 "Identity for ACR": read-only here; only a pool created through ARM has one.
    if (pool.identities.length > 0) {
      wire.identity = { type: "UserAssigned", userAssignedIdentities: pool.identities.map((resourceId) => ({ resourceId, ...identityIds(resourceId) })) };
    }
    return wire;
  }

  node(node: NodeRecord): Json {
    let slots = 0;
    for (const task of node.running) slots += task.requiredSlots;
    const wire: Json = {
      id: node.id,
      url: this.url(`/pools/${node.pool.id}/nodes/${node.id}`),
      state: node.state,
      schedulingState: node.schedulingState,
      stateTransitionTime: batchTime(node.stateTransitionTime),
      allocationTime: batchTime(node.allocationTime),
      ipAddress: "127.0.0.1",
      affinityId: `TVM:${node.id}`,
      vmSize: node.pool.vmSize,
      totalTasksRun: node.totalTasksRun,
      runningTasksCount: node.running.size,
      runningTaskSlotsCount: slots,
      totalTasksSucceeded: node.totalTasksSucceeded,
      isDedicated: node.isDedicated,
      errors: node.errors,
    };
    if (node.lastBootTime !== undefined) wire.lastBootTime = batchTime(node.lastBootTime);
    const running = [...node.running].map((task) => ({
      taskUrl: this.url(`/jobs/${task.job.id}/tasks/${task.id}`),
      jobId: task.job.id,
      taskId: task.id,
      taskState: task.state,
      executionInfo: this.executionInfo(task),
    }));
    const recent = [...running, ...node.recentTasks.filter((r) => !running.some((t) => t.taskId === r.taskId && t.jobId === r.jobId))];
    if (recent.length > 0) wire.recentTasks = recent;
    if (node.pool.startTask !== undefined) wire.startTask = node.pool.startTask;
    if (node.startTaskInfo !== undefined) {
      const info: Json = { ...node.startTaskInfo };
      for (const key of ["startTime", "endTime"]) if (info[key] instanceof Date) info[key] = batchTime(info[key] as Date);
      wire.startTaskInfo = info;
    }
    return wire;
  }
}
