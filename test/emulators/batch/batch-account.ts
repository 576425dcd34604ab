import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type {
  Json,
  JobRecord,
  NodeRecord,
  NodeState,
  PoolRecord,
  Quotas,
  Stamp,
  TaskExecution,
  TaskRecord,
} from "./account-model.js";
import { SERIES_VARIABLES, type NodeDeallocationOption } from "./autoscale-formula.js";
import { BatchError, batchTime, errors, propertyError } from "./batch-error.js";
import { autoScaleRun, evaluationInterval, parseFormulaOrThrow, takeSamples } from "./pool-autoscale.js";
import { validatePoolBody } from "./pool-body.js";
import { validateTaskBody, type ValidTaskBody } from "./task-body.js";
import { coresOf, type EmulatorTiming } from "./emulator-options.js";
import type { FaultPlan } from "./fault-plan.js";
import { formatDuration } from "./iso-duration.js";
import { startProcess, type ProcessOutcome } from "./node-process.js";
import { WireForms } from "./wire-forms.js";
import {
  asObject,
  environmentSettings,
  optionalBoolean,
  optionalDuration,
  optionalEnum,
  optionalInteger,
  optionalString,
  refuseUnemulated,
  requireId,
  requireObject,
  requireString,
} from "./request-validation.js";

/**
 * The emulated Batch account: pools and their nodes, jobs and their tasks, moved forward by a clock
 * as the service moves them (shared/notes/AZURE-BATCH.md §4 task lifecycle, §5 pools, §6 quotas).
 * Operations throw BatchError with the service's codes; the HTTP layer turns them into answers.
 */
export interface AccountConfig {
  accountName: string;
  baseUrl: () => string;
  rootDir: string;
  quotas: Quotas;
  vmSizeCores: Record<string, number>;
  timing: EmulatorTiming;
  baseEnv: Record<string, string>;
  wrapCommand?: (argv: string[], context: { poolId: string; nodeId: string; jobId?: string; taskId?: string }) => string[];
  shuffleAddCollectionResults: boolean;
  faults: FaultPlan;
  /** Identity resource ids, lower-cased, treated as attached to every pool (container-configuration.ts). */
  poolIdentities: ReadonlySet<string>;
}

const DEALLOCATION = ["requeue", "terminate", "taskcompletion", "retaineddata"] as const;
/** How many finished tasks a node lists in recentTasks. */
const RECENT_TASKS = 20;

export class BatchAccount {
  readonly pools = new Map<string, PoolRecord>();
  /** The records' wire forms, for the HTTP layer. */
  readonly wire: WireForms;
  readonly jobs = new Map<string, JobRecord>();
  private etagCounter = 0x8d3d623cd661246;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly config: AccountConfig) {
    this.wire = new WireForms(config.baseUrl);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.config.timing.tickMs);
    this.timer.unref();
  }

  /** Stops the clock and every process still running on a node. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const waits: Promise<unknown>[] = [];
    for (const pool of this.pools.values()) {
      for (const node of pool.nodes.values()) {
        if (node.startTaskProcess !== undefined) {
          node.startTaskProcess.kill();
          waits.push(node.startTaskProcess.done);
        }
        for (const task of node.running) {
          task.process?.kill();
          if (task.process !== undefined) waits.push(task.process.done);
        }
      }
    }
    await Promise.allSettled(waits);
  }

  get quotas(): Quotas {
    return this.config.quotas;
  }

  setQuotas(quotas: Partial<Quotas>): void {
    Object.assign(this.config.quotas, quotas);
  }

  // ------------------------------------------------------------------ helpers

  private now(): Date {
    return new Date();
  }

  private stamp(record: Stamp): void {
    this.etagCounter += 1 + Math.floor(Math.random() * 16);
    record.eTag = `0x${this.etagCounter.toString(16).toUpperCase()}`;
    record.lastModified = this.now();
  }

  private freshStamp(): Stamp {
    const stamp: Stamp = { eTag: "", lastModified: this.now() };
    this.stamp(stamp);
    return stamp;
  }

  private url(path: string): string {
    return `${this.config.baseUrl()}${path}`;
  }

  getPool(id: string): PoolRecord {
    const pool = this.pools.get(id.toLowerCase());
    if (pool === undefined) throw errors.poolNotFound();
    return pool;
  }

  getJob(id: string): JobRecord {
    const job = this.jobs.get(id.toLowerCase());
    if (job === undefined) throw errors.jobNotFound();
    return job;
  }

  getTask(jobId: string, taskId: string): TaskRecord {
    const job = this.getJob(jobId);
    const task = job.tasks.get(taskId.toLowerCase());
    if (task === undefined) throw errors.taskNotFound();
    return task;
  }

  getNode(poolId: string, nodeId: string): NodeRecord {
    const node = this.getPool(poolId).nodes.get(nodeId.toLowerCase());
    if (node === undefined) throw errors.nodeNotFound();
    return node;
  }

  private coresInUse(dedicated: boolean): number {
    let cores = 0;
    for (const pool of this.pools.values()) {
      for (const node of pool.nodes.values()) {
        if (node.isDedicated === dedicated && node.state !== "preempted") cores += pool.coresPerNode;
      }
    }
    return cores;
  }

  private activeJobCount(): number {
    let count = 0;
    for (const job of this.jobs.values()) if (job.state !== "completed") count += 1;
    return count;
  }

  // ------------------------------------------------------------------ pools (§3, §5)

  addPool(body: Json): PoolRecord {
    const { id, vmSize, enableAutoScale, resizeTimeoutMs, taskSlotsPerNode, targetDedicatedNodes, targetLowPriorityNodes, intervalMs, formula, statements, startTask } = validatePoolBody(body, {
      minAutoScaleEvaluationIntervalMs: this.config.timing.minAutoScaleEvaluationIntervalMs,
      poolIdentities: this.config.poolIdentities,
    });
    if (this.pools.size >= this.config.quotas.pools) throw errors.poolQuotaReached();
    if (this.pools.has(id.toLowerCase())) throw errors.poolExists();
    const now = this.now();
    const pool: PoolRecord = {
      ...this.freshStamp(),
      id,
      spec: body,
      vmSize,
      coresPerNode: coresOf(vmSize, this.config.vmSizeCores),
      creationTime: now,
      state: "active",
      stateTransitionTime: now,
      allocationState: "steady",
      allocationStateTransitionTime: now,
      targetDedicatedNodes: targetDedicatedNodes ?? 0,
      targetLowPriorityNodes: targetLowPriorityNodes ?? 0,
      resizeTimeout: formatDuration(resizeTimeoutMs),
      resizeErrors: [],
      deallocationOption: "requeue",
      enableAutoScale,
      autoScaleEvaluationIntervalMs: intervalMs,
      taskSlotsPerNode,
      nodes: new Map(),
      nodeSequence: 0,
      samples: Object.fromEntries(SERIES_VARIABLES.map((name) => [name, []])) as unknown as PoolRecord["samples"],
      nextSampleAtMs: now.getTime() + this.config.timing.autoScaleSampleIntervalMs,
    };
    if (startTask !== undefined) pool.startTask = startTask;
    if (enableAutoScale && formula !== undefined && statements !== undefined) {
      pool.autoScaleFormula = formula;
      pool.autoScaleStatements = statements;
      pool.autoScaleEvaluationInterval = formatDuration(intervalMs);
    }
    this.pools.set(id.toLowerCase(), pool);
    if (enableAutoScale) this.runAutoScale(pool);
    else if (pool.targetDedicatedNodes + pool.targetLowPriorityNodes > 0) this.beginResize(pool);
    return pool;
  }

  private usablePool(id: string): PoolRecord {
    const pool = this.getPool(id);
    if (pool.state === "deleting") throw errors.poolBeingDeleted();
    return pool;
  }

  deletePool(id: string): void {
    const pool = this.usablePool(id);
    pool.state = "deleting";
    pool.stateTransitionTime = this.now();
    pool.deleteDueAtMs = Date.now() + this.config.timing.deleteMs;
    this.stamp(pool);
    // §3 Pool Delete: running tasks are terminated and requeued.
    for (const node of pool.nodes.values()) for (const task of [...node.running]) this.requeue(task, true);
  }

  resizePool(id: string, body: Json): void {
    const pool = this.usablePool(id);
    const dedicated = optionalInteger(body, "targetDedicatedNodes", { min: 0, max: 100_000 });
    const lowPriority = optionalInteger(body, "targetLowPriorityNodes", { min: 0, max: 100_000 });
    const timeout = optionalDuration(body, "resizeTimeout");
    if (timeout !== undefined && timeout < 5 * 60_000) throw propertyError(errors.invalidPropertyValue, "resizeTimeout", "must be at least 5 minutes");
    const option = optionalEnum(body, "nodeDeallocationOption", DEALLOCATION) ?? "requeue";
    if (pool.enableAutoScale) throw errors.autoScaleEnabled({ key: "Reason", value: "the pool has autoscale enabled" });
    if (pool.allocationState !== "steady") throw errors.poolBeingResized();
    // Omitted targets keep their current value (the service's default is unconfirmed).
    if (dedicated !== undefined) pool.targetDedicatedNodes = dedicated;
    if (lowPriority !== undefined) pool.targetLowPriorityNodes = lowPriority;
    if (timeout !== undefined) pool.resizeTimeout = formatDuration(timeout);
    pool.deallocationOption = option;
    this.beginResize(pool);
  }

  stopResize(id: string): void {
    const pool = this.usablePool(id);
    if (pool.allocationState !== "resizing") return;
    pool.resizeDueAtMs = undefined;
    pool.resizeErrors = [{ code: "ResizeStopped", message: "The resize operation was stopped by the user." }];
    this.setAllocationState(pool, "steady");
  }

  enableAutoScale(id: string, body: Json): void {
    const pool = this.usablePool(id);
    const formula = optionalString(body, "autoScaleFormula") ?? pool.autoScaleFormula;
    if (formula === undefined) throw propertyError(errors.missingRequiredProperty, "autoScaleFormula");
    const statements = parseFormulaOrThrow(formula);
    const intervalMs = body.autoScaleEvaluationInterval === undefined ? pool.autoScaleEvaluationIntervalMs : evaluationInterval(body, this.config.timing.minAutoScaleEvaluationIntervalMs);
    if (pool.allocationState === "resizing" && !pool.enableAutoScale) throw errors.poolBeingResized();
    const nowMs = Date.now();
    if (pool.lastEnableAutoScaleMs !== undefined && nowMs - pool.lastEnableAutoScaleMs < this.config.timing.enableAutoScaleSpacingMs) {
      throw errors.autoScaleTooManyRequestsToEnable();
    }
    pool.lastEnableAutoScaleMs = nowMs;
    pool.enableAutoScale = true;
    pool.autoScaleFormula = formula;
    pool.autoScaleStatements = statements;
    pool.autoScaleEvaluationIntervalMs = intervalMs;
    pool.autoScaleEvaluationInterval = formatDuration(intervalMs);
    this.stamp(pool);
    this.runAutoScale(pool);
  }

  disableAutoScale(id: string): void {
    const pool = this.usablePool(id);
    pool.enableAutoScale = false;
    pool.autoScaleFormula = undefined;
    pool.autoScaleStatements = undefined;
    pool.autoScaleEvaluationInterval = undefined;
    pool.autoScaleRun = undefined;
    pool.nextAutoScaleAtMs = undefined;
    this.stamp(pool);
  }

  /** §3 Pool EvaluateAutoScale: autoscale must be on; the pool does not change. */
  evaluateAutoScale(id: string, body: Json): Json {
    const pool = this.usablePool(id);
    const formula = requireString(body, "autoScaleFormula");
    if (!pool.enableAutoScale) throw errors.autoScaleNotEnabled();
    return autoScaleRun(pool, this.now(), this.config.timing.autoScaleSampleIntervalMs, parseFormulaOrThrow(formula)).run;
  }

  /** Control API: evaluate a pool's formula now, as the service does at each interval. */
  evaluateAutoScaleNow(id: string): void {
    const pool = this.getPool(id);
    if (!pool.enableAutoScale) throw new Error(`pool ${id} does not have autoscale enabled`);
    this.runAutoScale(pool);
  }

  private runAutoScale(pool: PoolRecord): void {
    if (pool.autoScaleStatements === undefined) return;
    const { run, outcome } = autoScaleRun(pool, this.now(), this.config.timing.autoScaleSampleIntervalMs, pool.autoScaleStatements);
    pool.autoScaleRun = run;
    pool.nextAutoScaleAtMs = Date.now() + (this.config.timing.autoScaleEvaluationEveryMs ?? pool.autoScaleEvaluationIntervalMs);
    if (outcome === undefined) return;
    pool.targetDedicatedNodes = outcome.targetDedicatedNodes;
    pool.targetLowPriorityNodes = outcome.targetLowPriorityNodes;
    pool.deallocationOption = outcome.nodeDeallocationOption;
    this.stamp(pool);
    const counts = this.nodeCounts(pool);
    if (pool.allocationState === "steady" && (counts.dedicated !== pool.targetDedicatedNodes || counts.lowPriority !== pool.targetLowPriorityNodes)) {
      this.beginResize(pool);
    }
  }

  private nodeCounts(pool: PoolRecord): { dedicated: number; lowPriority: number } {
    let dedicated = 0;
    let lowPriority = 0;
    for (const node of pool.nodes.values()) {
      if (node.leaving) continue;
      if (node.isDedicated) dedicated += 1;
      else lowPriority += 1;
    }
    return { dedicated, lowPriority };
  }

  private setAllocationState(pool: PoolRecord, state: PoolRecord["allocationState"]): void {
    pool.allocationState = state;
    pool.allocationStateTransitionTime = this.now();
    this.stamp(pool);
  }

  private beginResize(pool: PoolRecord): void {
    pool.resizeErrors = [];
    pool.resizeDueAtMs = Date.now() + this.config.timing.allocationMs;
    this.setAllocationState(pool, "resizing");
  }

  /** The resize lands: nodes are added up to the core quota, or removed as the deallocation option says (§5). */
  private completeResize(pool: PoolRecord): void {
    pool.resizeDueAtMs = undefined;
    const resizeErrors: Json[] = [];
    const counts = this.nodeCounts(pool);
    for (const dedicated of [true, false]) {
      const current = dedicated ? counts.dedicated : counts.lowPriority;
      const target = dedicated ? pool.targetDedicatedNodes : pool.targetLowPriorityNodes;
      if (current < target) {
        const fault = this.config.faults.takeAllocation(pool.id);
        if (fault !== undefined) {
          resizeErrors.push({ code: fault.code, message: fault.message ?? "Allocation failed as the requested capacity is not available.", values: [] });
          continue;
        }
        const quota = dedicated ? this.config.quotas.dedicatedCores : this.config.quotas.lowPriorityCores;
        const free = Math.max(0, quota - this.coresInUse(dedicated));
        const count = Math.min(target - current, Math.floor(free / pool.coresPerNode));
        for (let i = 0; i < count; i += 1) this.createNode(pool, dedicated);
        if (count < target - current) {
          resizeErrors.push(
            dedicated
              ? { code: "AccountCoreQuotaReached", message: "The specified account has reached core quota", values: [] }
              : { code: "AccountLowPriorityCoreQuotaReached", message: "The specified account has reached low priority core quota", values: [] },
          );
        }
      } else if (current > target) {
        this.removeNodes(pool, dedicated, current - target, pool.deallocationOption);
      }
    }
    pool.resizeErrors = resizeErrors;
    if (![...pool.nodes.values()].some((node) => node.leaving)) this.setAllocationState(pool, "steady");
  }

  private createNode(pool: PoolRecord, dedicated: boolean): NodeRecord {
    pool.nodeSequence += 1;
    const id = `tvmps_${pool.id.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 20)}_${String(pool.nodeSequence).padStart(6, "0")}${dedicated ? "d" : "p"}`;
    const now = this.now();
    const node: NodeRecord = {
      id,
      pool,
      isDedicated: dedicated,
      state: "creating",
      stateTransitionTime: now,
      allocationTime: now,
      schedulingState: "enabled",
      rootDir: join(this.config.rootDir, pool.id.toLowerCase(), id),
      running: new Set(),
      totalTasksRun: 0,
      totalTasksSucceeded: 0,
      recentTasks: [],
      errors: [],
      nextStepAtMs: Date.now() + this.config.timing.nodeBootMs,
      leaving: false,
    };
    pool.nodes.set(id.toLowerCase(), node);
    return node;
  }

  private removeNodes(pool: PoolRecord, dedicated: boolean, count: number, option: NodeDeallocationOption): void {
    const order: NodeState[] = ["preempted", "unusable", "startTaskFailed", "offline", "creating", "starting", "waitingForStartTask", "idle", "running"];
    const candidates = [...pool.nodes.values()]
      .filter((node) => node.isDedicated === dedicated && !node.leaving)
      .sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state))
      .slice(0, count);
    for (const node of candidates) {
      if (node.running.size === 0) {
        this.dropNode(node);
      } else if (option === "requeue") {
        for (const task of [...node.running]) this.requeue(task, true);
        this.dropNode(node);
      } else if (option === "terminate") {
        for (const task of [...node.running]) this.endByService(task, "TaskEnded", "The task was terminated because its node was removed from the pool");
        this.dropNode(node);
      } else {
        // taskcompletion and retaineddata: stop scheduling, leave once the running tasks end.
        node.leaving = true;
        node.schedulingState = "disabled";
        this.setNodeState(node, "leavingPool");
      }
    }
  }

  private dropNode(node: NodeRecord): void {
    node.startTaskProcess?.kill();
    node.pool.nodes.delete(node.id.toLowerCase());
  }

  private setNodeState(node: NodeRecord, state: NodeState): void {
    if (node.state === state) return;
    node.state = state;
    node.stateTransitionTime = this.now();
  }

  /** Control API: §4 "Spot/low-priority node preempted". */
  preemptNode(poolId: string, nodeId: string | undefined, recoverAfterMs: number | undefined): string {
    const pool = this.getPool(poolId);
    const candidates = [...pool.nodes.values()].filter((node) => !node.isDedicated && node.state !== "preempted");
    const node = nodeId === undefined ? candidates.find((n) => n.running.size > 0) ?? candidates[0] : pool.nodes.get(nodeId.toLowerCase());
    if (node === undefined) throw new Error(`pool ${poolId} has no low-priority node to preempt`);
    if (node.isDedicated) throw new Error(`node ${node.id} is dedicated: only low-priority nodes are preempted`);
    node.startTaskProcess?.kill();
    node.startTaskProcess = undefined;
    // Running tasks are requeued and rerun when capacity returns; requeueCount is not counted (§4, unconfirmed).
    for (const task of [...node.running]) this.requeue(task, false);
    this.setNodeState(node, "preempted");
    node.nextStepAtMs = recoverAfterMs === undefined ? undefined : Date.now() + recoverAfterMs;
    return node.id;
  }

  /** Control API: a preempted node re-enters the pool (creating, then starting). */
  recoverNode(poolId: string, nodeId: string): void {
    const node = this.getNode(poolId, nodeId);
    if (node.state !== "preempted") throw new Error(`node ${nodeId} is not preempted`);
    this.reboot(node);
  }

  private reboot(node: NodeRecord): void {
    this.setNodeState(node, "creating");
    node.startTaskInfo = undefined;
    node.nextStepAtMs = Date.now() + this.config.timing.nodeBootMs;
  }

  // ------------------------------------------------------------------ jobs (§3)

  addJob(body: Json): JobRecord {
    const id = requireId(body);
    const poolInfo = requireObject(body, "poolInfo");
    refuseUnemulated(poolInfo, ["autoPoolSpecification"], "poolInfo.");
    const poolId = requireString(poolInfo, "poolId", "poolInfo.poolId");
    refuseUnemulated(body, ["jobManagerTask", "jobPreparationTask", "jobReleaseTask", "networkConfiguration"]);
    optionalEnum(body, "onAllTasksComplete", ["noaction", "terminatejob"] as const);
    optionalEnum(body, "onTaskFailure", ["noaction", "performexitoptionsjobaction"] as const);
    optionalInteger(body, "priority", { min: -1000, max: 1000 });
    optionalInteger(body, "maxParallelTasks", { min: -1, max: 1_000_000 });
    if (optionalBoolean(body, "usesTaskDependencies") === true) refuseUnemulated(body, ["usesTaskDependencies"]);
    const constraints = body.constraints === undefined || body.constraints === null ? {} : asObject(body.constraints, "constraints");
    optionalDuration(constraints, "maxWallClockTime", "constraints.maxWallClockTime");
    optionalInteger(constraints, "maxTaskRetryCount", { min: -1, max: 1_000_000 }, "constraints.maxTaskRetryCount");
    environmentSettings(body, "commonEnvironmentSettings");
    if (this.jobs.has(id.toLowerCase())) throw errors.jobExists();
    if (this.activeJobCount() >= this.config.quotas.activeJobs) throw errors.activeJobAndScheduleQuotaReached();
    const now = this.now();
    const job: JobRecord = {
      ...this.freshStamp(),
      id,
      spec: body,
      poolId,
      creationTime: now,
      state: "active",
      stateTransitionTime: now,
      executionInfo: { startTime: now, poolId },
      tasks: new Map(),
      queue: [],
      taskSequence: 0,
    };
    this.jobs.set(id.toLowerCase(), job);
    return job;
  }

  private setJobState(job: JobRecord, state: JobRecord["state"]): void {
    job.previousState = job.state;
    job.previousStateTransitionTime = job.stateTransitionTime;
    job.state = state;
    job.stateTransitionTime = this.now();
    this.stamp(job);
  }

  terminateJob(id: string, body: Json): void {
    const job = this.getJob(id);
    const reason = optionalString(body, "terminateReason") ?? "UserTerminate";
    if (job.state === "completed") throw errors.jobCompleted();
    if (job.state === "terminating") throw errors.jobBeingTerminated();
    if (job.state === "deleting") throw errors.jobBeingDeleted();
    job.executionInfo.terminateReason = reason;
    this.setJobState(job, "terminating");
    job.stepDueAtMs = Date.now() + this.config.timing.deleteMs;
    // §4 Job Terminate: running tasks are terminated; active tasks stay active and never run.
    for (const task of job.tasks.values()) {
      if (task.state === "running" || task.state === "preparing") this.endByService(task, "TaskEnded", "Task was ended by user request");
    }
  }

  deleteJob(id: string): void {
    const job = this.getJob(id);
    if (job.state === "deleting") throw errors.jobBeingDeleted();
    this.setJobState(job, "deleting");
    job.stepDueAtMs = Date.now() + this.config.timing.deleteMs;
    for (const task of job.tasks.values()) this.stopRun(task);
  }

  /** A job that accepts task calls: §3 Task Add errors for the other states. */
  jobForTasks(id: string): JobRecord {
    const job = this.getJob(id);
    if (job.state === "deleting") throw errors.jobBeingDeleted();
    return job;
  }

  private jobAcceptingTasks(id: string): JobRecord {
    const job = this.jobForTasks(id);
    if (job.state === "completed") throw errors.jobCompleted();
    if (job.state === "terminating") throw errors.jobBeingTerminated();
    if (job.state !== "active") throw errors.jobNotActive();
    return job;
  }

  taskCounts(id: string): Json {
    const job = this.jobForTasks(id);
    const counts = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
    const slots = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
    for (const task of job.tasks.values()) {
      const key = task.state === "preparing" ? "running" : task.state;
      counts[key] += 1;
      slots[key] += task.requiredSlots;
      if (task.state === "completed") {
        const outcome = task.execution.result === "success" ? "succeeded" : "failed";
        counts[outcome] += 1;
        slots[outcome] += task.requiredSlots;
      }
    }
    return { taskCounts: counts, taskSlotCounts: slots };
  }

  // ------------------------------------------------------------------ tasks (§3, §4)

  addTask(jobId: string, body: Json): TaskRecord {
    const job = this.jobAcceptingTasks(jobId);
    const valid = validateTaskBody(body);
    if (job.tasks.has(valid.id.toLowerCase())) throw errors.taskExists();
    return this.insertTask(job, body, valid);
  }

  private insertTask(job: JobRecord, body: Json, valid: ValidTaskBody): TaskRecord {
    const now = this.now();
    job.taskSequence += 1;
    const jobConstraints = (job.spec.constraints ?? {}) as Json;
    const jobRetry = typeof jobConstraints.maxTaskRetryCount === "number" ? jobConstraints.maxTaskRetryCount : undefined;
    const taskConstraints = (body.constraints ?? {}) as Json;
    const task: TaskRecord = {
      ...this.freshStamp(),
      id: valid.id,
      job,
      spec: body,
      sequence: job.taskSequence,
      creationTime: now,
      state: "active",
      stateTransitionTime: now,
      execution: { retryCount: 0, requeueCount: 0 },
      maxTaskRetryCount: taskConstraints.maxTaskRetryCount === undefined && jobRetry !== undefined ? jobRetry : valid.maxTaskRetryCount,
      maxWallClockMs: valid.maxWallClockMs,
      requiredSlots: valid.requiredSlots,
      runId: 0,
    };
    job.tasks.set(valid.id.toLowerCase(), task);
    job.queue.push(task);
    return task;
  }

  /** §3 Task AddCollection: ≤ 100 tasks; per-task results, in any order; 200 even when every task failed. */
  addTaskCollection(jobId: string, body: Json, errorContext: (err: BatchError) => Json): Json[] {
    const job = this.jobAcceptingTasks(jobId);
    const value = body.value;
    if (!Array.isArray(value)) throw propertyError(errors.missingRequiredProperty, "value");
    if (value.length > 100) throw propertyError(errors.invalidPropertyValue, "value", "a collection holds at most 100 tasks");
    const serverErrors = this.config.faults.takeAddCollection()?.tasks ?? 0;
    const results = value.map((item, index): Json => {
      const taskId = typeof item === "object" && item !== null && typeof (item as Json).id === "string" ? ((item as Json).id as string) : "";
      if (index < serverErrors) {
        return { status: "serverError", taskId, error: errorContext(errors.operationTimedOut()) };
      }
      try {
        const taskBody = asObject(item, `value[${index}]`);
        const valid = validateTaskBody(taskBody);
        if (job.tasks.has(valid.id.toLowerCase())) throw errors.taskExists();
        const task = this.insertTask(job, taskBody, valid);
        return { status: "success", taskId: task.id, eTag: task.eTag, lastModified: batchTime(task.lastModified), location: this.url(`/jobs/${job.id}/tasks/${task.id}`) };
      } catch (err) {
        if (!(err instanceof BatchError)) throw err;
        return { status: "clientError", taskId, error: errorContext(err) };
      }
    });
    if (this.config.shuffleAddCollectionResults) {
      for (let i = results.length - 1; i > 0; i -= 1) {
        const j = Math.floor(Math.random() * (i + 1));
        [results[i], results[j]] = [results[j] as Json, results[i] as Json];
      }
    }
    return results;
  }

  listTasks(jobId: string): TaskRecord[] {
    return [...this.jobForTasks(jobId).tasks.values()];
  }

  terminateTask(jobId: string, taskId: string): void {
    this.jobForTasks(jobId);
    const task = this.getTask(jobId, taskId);
    if (task.state === "completed") throw errors.taskCompleted();
    this.endByService(task, "TaskEnded", "Task was ended by user request", "userError");
  }

  deleteTask(jobId: string, taskId: string): void {
    const job = this.jobForTasks(jobId);
    const task = this.getTask(jobId, taskId);
    this.stopRun(task);
    job.tasks.delete(task.id.toLowerCase());
    // §3 Task Delete: the task's node files go too, whatever the retention time.
    void this.removeTaskFiles(task);
  }

  taskDir(task: TaskRecord): string | undefined {
    if (task.filesNode === undefined) return undefined;
    return join(task.filesNode.rootDir, "workitems", task.job.id, "job-1", task.id);
  }

  private async removeTaskFiles(task: TaskRecord): Promise<void> {
    const dir = this.taskDir(task);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  // ------------------------------------------------------------------ task runs

  private setTaskState(task: TaskRecord, state: TaskRecord["state"]): void {
    task.previousState = task.state;
    task.previousStateTransitionTime = task.stateTransitionTime;
    task.state = state;
    task.stateTransitionTime = this.now();
    this.stamp(task);
  }

  /** Detaches a task from its node and stops its process, leaving the task's state to the caller. */
  private stopRun(task: TaskRecord): void {
    task.runId += 1;
    task.process?.kill();
    task.process = undefined;
    const node = task.node;
    if (node !== undefined) {
      node.running.delete(task);
      task.node = undefined;
      this.recordRecentTask(node, task);
      this.afterNodeTaskEnded(node);
    }
  }

  private requeue(task: TaskRecord, countRequeue: boolean): void {
    const node = task.node;
    this.stopRun(task);
    if (countRequeue) {
      task.execution.requeueCount += 1;
      task.execution.lastRequeueTime = this.now();
    }
    this.setTaskState(task, "active");
    if (node !== undefined) this.recordRecentTask(node, task);
    task.job.queue.push(task);
  }

  /** The service ends a task (terminate, job terminate, wall clock, removed node). */
  private endByService(task: TaskRecord, code: string, message: string, category: "userError" | "serverError" = "userError"): void {
    const wasRunning = task.state === "running" || task.state === "preparing";
    const node = task.node;
    this.stopRun(task);
    const now = this.now();
    const execution: TaskExecution = { ...task.execution, endTime: now, result: "failure", failureInfo: { category, code, message, details: [] } };
    // §4 Task Terminate: the exit code is OS-defined; a killed process here reports 128 + SIGKILL.
    if (wasRunning) execution.exitCode = 137;
    task.execution = execution;
    this.setTaskState(task, "completed");
    if (node !== undefined) this.recordRecentTask(node, task);
    this.afterTaskCompleted(task);
  }

  private afterNodeTaskEnded(node: NodeRecord): void {
    if (node.leaving && node.running.size === 0) {
      this.dropNode(node);
      const pool = node.pool;
      if (pool.allocationState === "resizing" && pool.resizeDueAtMs === undefined && ![...pool.nodes.values()].some((n) => n.leaving)) {
        this.setAllocationState(pool, "steady");
      }
      return;
    }
    if (node.state === "running" && node.running.size === 0) this.setNodeState(node, "idle");
  }

  private recordRecentTask(node: NodeRecord, task: TaskRecord): void {
    const entry: Json = {
      taskUrl: this.url(`/jobs/${task.job.id}/tasks/${task.id}`),
      jobId: task.job.id,
      taskId: task.id,
      taskState: task.state,
      executionInfo: this.wire.executionInfo(task),
    };
    node.recentTasks = [entry, ...node.recentTasks.filter((t) => t.taskId !== task.id || t.jobId !== task.job.id)].slice(0, RECENT_TASKS);
  }

  private afterTaskCompleted(task: TaskRecord): void {
    const job = task.job;
    if (String(job.spec.onAllTasksComplete ?? "noaction").toLowerCase() === "terminatejob" && job.state === "active") {
      if ([...job.tasks.values()].every((t) => t.state === "completed")) {
        job.executionInfo.terminateReason = "AllTasksComplete";
        this.setJobState(job, "terminating");
        job.stepDueAtMs = Date.now() + this.config.timing.deleteMs;
      }
    }
  }

  private environment(node: NodeRecord, extra: Record<string, string>, settings: { name: string; value: string }[]): Record<string, string> {
    const env: Record<string, string> = {
      ...this.config.baseEnv,
      AZ_BATCH_ACCOUNT_NAME: this.config.accountName,
      AZ_BATCH_ACCOUNT_URL: this.config.baseUrl(),
      AZ_BATCH_POOL_ID: node.pool.id,
      AZ_BATCH_NODE_ID: node.id,
      AZ_BATCH_NODE_IS_DEDICATED: node.isDedicated ? "true" : "false",
      AZ_BATCH_NODE_ROOT_DIR: node.rootDir,
      AZ_BATCH_NODE_SHARED_DIR: join(node.rootDir, "shared"),
      AZ_BATCH_NODE_STARTUP_DIR: join(node.rootDir, "startup"),
      AZ_BATCH_NODE_MOUNTS_DIR: join(node.rootDir, "fsmounts"),
      AZ_BATCH_RESERVED_EPHEMERAL_DISK_SPACE_BYTES: "1000000000",
      ...extra,
    };
    for (const setting of settings) env[setting.name] = setting.value;
    return env;
  }

  private runTask(task: TaskRecord, node: NodeRecord): void {
    const job = task.job;
    task.runId += 1;
    const runId = task.runId;
    task.node = node;
    task.filesNode = node;
    node.running.add(task);
    node.totalTasksRun += 1;
    this.setNodeState(node, "running");
    // A new run clears the previous run's outcome; the retry and requeue history stays.
    const { retryCount, requeueCount, lastRetryTime, lastRequeueTime } = task.execution;
    task.execution = { retryCount, requeueCount, startTime: this.now() };
    if (lastRetryTime !== undefined) task.execution.lastRetryTime = lastRetryTime;
    if (lastRequeueTime !== undefined) task.execution.lastRequeueTime = lastRequeueTime;
    this.setTaskState(task, "running");
    const taskDir = this.taskDir(task) as string;
    const workingDir = join(taskDir, "wd");
    const fault = this.config.faults.takeTask(task.id);
    const containerPool = (node.pool.spec.virtualMachineConfiguration as Json | undefined)?.containerConfiguration !== undefined;
    const failNow = (code: string, message: string, category: "userError" | "serverError") => {
      setImmediate(() => {
        if (task.runId !== runId) return;
        this.finishRun(task, node, { kind: "launch-failed", code, message }, category);
      });
    };
    void mkdir(workingDir, { recursive: true });
    if (fault !== undefined) {
      failNow(fault.code, fault.message ?? `The task failed with ${fault.code}`, fault.category ?? "userError");
      return;
    }
    if (containerPool && (task.spec.containerSettings === undefined || task.spec.containerSettings === null)) {
      // §4: a container-enabled node requires task container settings.
      failNow("ContainerTaskSettingsNotFound", "Container-enabled compute node requires task container settings", "userError");
      return;
    }
    const env = this.environment(
      node,
      {
        AZ_BATCH_JOB_ID: job.id,
        AZ_BATCH_TASK_ID: task.id,
        AZ_BATCH_TASK_DIR: taskDir,
        AZ_BATCH_TASK_WORKING_DIR: workingDir,
        AZ_BATCH_CERTIFICATES_DIR: join(taskDir, "certs"),
        AZ_BATCH_TASK_USER: "_azbatch",
        AZ_BATCH_TASK_USER_IDENTITY: "PoolNonAdmin",
      },
      [...environmentSettings(job.spec, "commonEnvironmentSettings"), ...environmentSettings(task.spec, "environmentSettings")],
    );
    const wrap = this.config.wrapCommand;
    const proc = startProcess({
      commandLine: task.spec.commandLine as string,
      taskDir,
      workingDir,
      env,
      resourceFiles: (Array.isArray(task.spec.resourceFiles) ? task.spec.resourceFiles : []) as { httpUrl: string; filePath: string }[],
      maxWallClockMs: task.maxWallClockMs,
      ...(wrap === undefined ? {} : { wrapCommand: (argv: string[]) => wrap(argv, { poolId: node.pool.id, nodeId: node.id, jobId: job.id, taskId: task.id }) }),
    });
    task.process = proc;
    void proc.done.then(
      (outcome) => {
        if (task.runId === runId && !this.stopped) this.finishRun(task, node, outcome);
      },
      (err: unknown) => {
        if (task.runId === runId && !this.stopped) this.finishRun(task, node, { kind: "launch-failed", code: "CommandLaunchFailed", message: String(err) });
      },
    );
  }

  private finishRun(task: TaskRecord, node: NodeRecord, outcome: ProcessOutcome, category: "userError" | "serverError" = "userError"): void {
    if (outcome.kind === "killed") return;
    task.process = undefined;
    task.runId += 1;
    node.running.delete(task);
    task.node = undefined;
    const now = this.now();
    const execution: TaskExecution = { ...task.execution, endTime: now };
    if (outcome.kind === "exited" && outcome.exitCode === 0) {
      execution.exitCode = 0;
      execution.result = "success";
      node.totalTasksSucceeded += 1;
    } else if (outcome.kind === "exited") {
      const retriesLeft = task.maxTaskRetryCount === -1 || task.execution.retryCount < task.maxTaskRetryCount;
      if (retriesLeft) {
        // §4: exit ≠ 0 with retries left goes back to active, retryCount + 1.
        task.execution = { ...task.execution, retryCount: task.execution.retryCount + 1, lastRetryTime: now };
        this.setTaskState(task, "active");
        task.job.queue.push(task);
        this.recordRecentTask(node, task);
        this.afterNodeTaskEnded(node);
        return;
      }
      execution.exitCode = outcome.exitCode;
      execution.result = "failure";
      execution.failureInfo = {
        category: "userError",
        code: "FailureExitCode",
        message: "The task exited with an exit code representing a failure",
        details: [{ name: "Message", value: "The task exited with an exit code representing a failure" }],
      };
    } else if (outcome.kind === "timed-out") {
      execution.exitCode = outcome.exitCode;
      execution.result = "failure";
      execution.failureInfo = { category: "serverError", code: "TaskEnded", message: "The task was ended because it exceeded its maximum wall clock time", details: [] };
    } else {
      // Pre-processing and launch failures are not retried (§4).
      execution.result = "failure";
      execution.failureInfo = { category, code: outcome.code, message: outcome.message, details: [] };
    }
    task.execution = execution;
    this.setTaskState(task, "completed");
    this.recordRecentTask(node, task);
    this.afterNodeTaskEnded(node);
    this.afterTaskCompleted(task);
  }

  private runStartTask(node: NodeRecord): void {
    const startTask = node.pool.startTask as Json;
    const waitForSuccess = startTask.waitForSuccess !== false;
    const maxRetries = typeof startTask.maxTaskRetryCount === "number" ? startTask.maxTaskRetryCount : 0;
    const taskDir = join(node.rootDir, "startup");
    const workingDir = join(taskDir, "wd");
    const attempt = (retryCount: number) => {
      const startTime = this.now();
      node.startTaskInfo = { state: "running", startTime, retryCount };
      const wrap = this.config.wrapCommand;
      const proc = startProcess({
        commandLine: startTask.commandLine as string,
        taskDir,
        workingDir,
        env: this.environment(node, { AZ_BATCH_TASK_DIR: taskDir, AZ_BATCH_TASK_WORKING_DIR: workingDir, AZ_BATCH_NODE_STARTUP_WORKING_DIR: workingDir }, environmentSettings(startTask, "environmentSettings")),
        resourceFiles: [],
        maxWallClockMs: Number.MAX_SAFE_INTEGER,
        ...(wrap === undefined ? {} : { wrapCommand: (argv: string[]) => wrap(argv, { poolId: node.pool.id, nodeId: node.id }) }),
      });
      node.startTaskProcess = proc;
      void proc.done.then((outcome) => {
        if (node.startTaskProcess !== proc || this.stopped) return;
        node.startTaskProcess = undefined;
        const endTime = this.now();
        const exitCode = outcome.kind === "exited" || outcome.kind === "timed-out" ? outcome.exitCode : undefined;
        const success = outcome.kind === "exited" && outcome.exitCode === 0;
        if (!success && retryCount < maxRetries && (maxRetries === -1 || retryCount < maxRetries)) {
          attempt(retryCount + 1);
          return;
        }
        node.startTaskInfo = {
          state: "completed",
          startTime,
          endTime,
          retryCount,
          result: success ? "success" : "failure",
          ...(exitCode === undefined ? {} : { exitCode }),
          ...(success
            ? {}
            : {
                failureInfo:
                  outcome.kind === "exited" || outcome.kind === "timed-out"
                    ? { category: "userError", code: "FailureExitCode", message: "The task exited with an exit code representing a failure", details: [] }
                    : { category: "userError", code: outcome.kind === "killed" ? "TaskEnded" : outcome.code, message: outcome.kind === "killed" ? "The start task was stopped" : outcome.message, details: [] },
              }),
        };
        // §4: with waitForSuccess a failed start task leaves the node startTaskFailed; tasks stay active.
        if (waitForSuccess) this.setNodeState(node, success ? "idle" : "startTaskFailed");
      });
    };
    if (!waitForSuccess) this.setNodeState(node, "idle");
    else this.setNodeState(node, "waitingForStartTask");
    attempt(0);
  }

  // ------------------------------------------------------------------ the clock

  private tick(): void {
    if (this.stopped) return;
    const nowMs = Date.now();
    for (const pool of [...this.pools.values()]) {
      if (pool.state === "deleting") {
        if (nowMs >= (pool.deleteDueAtMs ?? 0)) {
          for (const node of pool.nodes.values()) this.dropNode(node);
          this.pools.delete(pool.id.toLowerCase());
          void rm(join(this.config.rootDir, pool.id.toLowerCase()), { recursive: true, force: true }).catch(() => undefined);
        }
        continue;
      }
      if (nowMs >= pool.nextSampleAtMs) takeSamples(pool, this.jobs.values(), nowMs, this.config.timing.autoScaleSampleIntervalMs);
      if (pool.enableAutoScale && pool.nextAutoScaleAtMs !== undefined && nowMs >= pool.nextAutoScaleAtMs) this.runAutoScale(pool);
      if (pool.allocationState === "resizing" && pool.resizeDueAtMs !== undefined && nowMs >= pool.resizeDueAtMs) this.completeResize(pool);
      for (const node of pool.nodes.values()) this.stepNode(node, nowMs);
    }
    for (const job of [...this.jobs.values()]) {
      if (job.stepDueAtMs !== undefined && nowMs >= job.stepDueAtMs) {
        job.stepDueAtMs = undefined;
        if (job.state === "terminating") {
          job.executionInfo.endTime = this.now();
          this.setJobState(job, "completed");
        } else if (job.state === "deleting") {
          this.jobs.delete(job.id.toLowerCase());
          for (const task of job.tasks.values()) void this.removeTaskFiles(task);
        }
      }
      if (job.state === "active") this.schedule(job);
    }
  }

  private stepNode(node: NodeRecord, nowMs: number): void {
    if (node.nextStepAtMs === undefined || nowMs < node.nextStepAtMs) return;
    if (node.state === "creating") {
      this.setNodeState(node, "starting");
      node.lastBootTime = this.now();
      node.nextStepAtMs = nowMs + this.config.timing.nodeBootMs;
    } else if (node.state === "starting") {
      node.nextStepAtMs = undefined;
      void Promise.all([mkdir(join(node.rootDir, "shared"), { recursive: true }), mkdir(join(node.rootDir, "startup"), { recursive: true })]);
      if (node.pool.startTask !== undefined) this.runStartTask(node);
      else this.setNodeState(node, "idle");
    } else if (node.state === "preempted") {
      this.reboot(node);
    } else {
      node.nextStepAtMs = undefined;
    }
  }

  private schedule(job: JobRecord): void {
    if (job.queue.length === 0) return;
    const pool = this.pools.get(job.poolId.toLowerCase());
    if (pool === undefined || pool.state !== "active") return;
    const nodes = [...pool.nodes.values()].filter(
      (node) => (node.state === "idle" || node.state === "running") && node.schedulingState === "enabled" && !node.leaving,
    );
    if (nodes.length === 0) return;
    const maxParallel = typeof job.spec.maxParallelTasks === "number" && job.spec.maxParallelTasks >= 0 ? job.spec.maxParallelTasks : Infinity;
    let runningInJob = 0;
    if (maxParallel !== Infinity) for (const task of job.tasks.values()) if (task.state === "running") runningInJob += 1;
    const freeSlots = (node: NodeRecord) => {
      let used = 0;
      for (const task of node.running) used += task.requiredSlots;
      return pool.taskSlotsPerNode - used;
    };
    const remaining: TaskRecord[] = [];
    const kept = new Set<TaskRecord>();
    const queue = job.queue;
    job.queue = remaining;
    let open = nodes.filter((n) => freeSlots(n) > 0);
    for (let i = 0; i < queue.length; i += 1) {
      const task = queue[i] as TaskRecord;
      if (task.state !== "active" || job.tasks.get(task.id.toLowerCase()) !== task || kept.has(task)) continue;
      const node = runningInJob < maxParallel && open.length > 0 ? open.find((n) => freeSlots(n) >= task.requiredSlots) : undefined;
      if (node === undefined) {
        kept.add(task);
        remaining.push(task);
        continue;
      }
      runningInJob += 1;
      this.runTask(task, node);
      if (freeSlots(node) <= 0) open = open.filter((n) => n !== node);
    }
  }
}
