import type { Sample, SeriesName, NodeDeallocationOption, Statement } from "./autoscale-formula.js";
import type { RunningProcess } from "./node-process.js";

/**
 * The emulated account's records. Field names follow the service's JSON (CloudPool, ComputeNode,
 * CloudJob, CloudTask in @azure/batch 10.2.0's models) so that turning a record into its wire form
 * is a copy, not a translation.
 */
export type Json = Record<string, unknown>;

export interface Stamp {
  eTag: string;
  lastModified: Date;
}

export type PoolState = "active" | "deleting";
export type AllocationState = "steady" | "resizing" | "stopping";

export interface PoolRecord extends Stamp {
  id: string;
  /** The PoolAddParameter as received, for the fields the emulator only echoes back. */
  spec: Json;
  /** User-assigned identities attached to the pool (through ARM), by resource id as given. */
  identities: string[];
  /** The ARM pool properties as received, when the pool was created through ARM (arm-pool-body.ts). */
  armProperties?: Json;
  vmSize: string;
  coresPerNode: number;
  creationTime: Date;
  state: PoolState;
  stateTransitionTime: Date;
  allocationState: AllocationState;
  allocationStateTransitionTime: Date;
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  resizeTimeout: string;
  resizeErrors: Json[];
  /** When the current resize allocates its nodes. */
  resizeDueAtMs?: number;
  /** How nodes leave on the current shrink. */
  deallocationOption: NodeDeallocationOption;
  enableAutoScale: boolean;
  autoScaleFormula?: string;
  autoScaleStatements?: Statement[];
  autoScaleEvaluationInterval?: string;
  autoScaleEvaluationIntervalMs: number;
  autoScaleRun?: Json;
  nextAutoScaleAtMs?: number;
  lastEnableAutoScaleMs?: number;
  taskSlotsPerNode: number;
  startTask?: Json;
  nodes: Map<string, NodeRecord>;
  nodeSequence: number;
  samples: Record<SeriesName, Sample[]>;
  nextSampleAtMs: number;
  deleteDueAtMs?: number;
}

export type NodeState =
  | "idle"
  | "running"
  | "creating"
  | "starting"
  | "waitingForStartTask"
  | "startTaskFailed"
  | "unusable"
  | "leavingPool"
  | "offline"
  | "preempted";

export interface NodeRecord {
  id: string;
  pool: PoolRecord;
  isDedicated: boolean;
  state: NodeState;
  stateTransitionTime: Date;
  allocationTime: Date;
  lastBootTime?: Date;
  schedulingState: "enabled" | "disabled";
  rootDir: string;
  running: Set<TaskRecord>;
  totalTasksRun: number;
  totalTasksSucceeded: number;
  recentTasks: Json[];
  startTaskInfo?: Json;
  errors: Json[];
  /** When the node moves out of creating/starting/preempted. */
  nextStepAtMs?: number;
  startTaskProcess?: RunningProcess;
  /** Leaves the pool once its tasks end (taskcompletion / retaineddata shrink). */
  leaving: boolean;
}

export type JobState = "active" | "disabling" | "disabled" | "enabling" | "terminating" | "completed" | "deleting";

export interface JobRecord extends Stamp {
  id: string;
  spec: Json;
  poolId: string;
  creationTime: Date;
  state: JobState;
  stateTransitionTime: Date;
  previousState?: JobState;
  previousStateTransitionTime?: Date;
  executionInfo: Json;
  tasks: Map<string, TaskRecord>;
  /** Active tasks in the order they became active; entries no longer active are skipped. */
  queue: TaskRecord[];
  taskSequence: number;
  stepDueAtMs?: number;
}

export type TaskState = "active" | "preparing" | "running" | "completed";

export interface TaskExecution {
  retryCount: number;
  requeueCount: number;
  startTime?: Date;
  endTime?: Date;
  exitCode?: number;
  result?: "success" | "failure";
  failureInfo?: Json;
  lastRetryTime?: Date;
  lastRequeueTime?: Date;
}

export interface TaskRecord extends Stamp {
  id: string;
  job: JobRecord;
  spec: Json;
  sequence: number;
  creationTime: Date;
  state: TaskState;
  stateTransitionTime: Date;
  previousState?: TaskState;
  previousStateTransitionTime?: Date;
  execution: TaskExecution;
  maxTaskRetryCount: number;
  maxWallClockMs: number;
  requiredSlots: number;
  node?: NodeRecord;
  /** The node whose disk holds the task's files (kept after the task ends). */
  filesNode?: NodeRecord;
  process?: RunningProcess;
  /** Bumped on every run, so a stale process exit is ignored. */
  runId: number;
}

export interface Quotas {
  dedicatedCores: number;
  lowPriorityCores: number;
  pools: number;
  activeJobs: number;
}
