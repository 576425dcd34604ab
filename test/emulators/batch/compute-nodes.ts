import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Json, NodeRecord, NodeState, PoolRecord, TaskRecord } from "./account-model.js";
import type { NodeDeallocationOption } from "./autoscale-formula.js";
import { errors } from "./batch-error.js";
import type { AccountState } from "./account-state.js";
import { setAllocationState } from "./pool-resize.js";
import { runStartTask } from "./start-task-run.js";
import { endByService, requeue } from "./task-runs.js";

/**
 * Compute nodes: creation on a resize, removal as the deallocation option says, state changes,
 * preemption and recovery (§4), boot steps, and the recentTasks a node lists.
 */

/** How many finished tasks a node lists in recentTasks. */
const RECENT_TASKS = 20;

export function createNode(account: AccountState, pool: PoolRecord, dedicated: boolean): NodeRecord {
  pool.nodeSequence += 1;
  const id = `tvmps_${pool.id.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 20)}_${String(pool.nodeSequence).padStart(6, "0")}${dedicated ? "d" : "p"}`;
  const now = account.now();
  const node: NodeRecord = {
    id,
    pool,
    isDedicated: dedicated,
    state: "creating",
    stateTransitionTime: now,
    allocationTime: now,
    schedulingState: "enabled",
    rootDir: join(account.config.rootDir, pool.id.toLowerCase(), id),
    running: new Set(),
    totalTasksRun: 0,
    totalTasksSucceeded: 0,
    recentTasks: [],
    errors: [],
    nextStepAtMs: Date.now() + account.config.timing.nodeBootMs,
    leaving: false,
  };
  pool.nodes.set(id.toLowerCase(), node);
  return node;
}

export function removeNodes(account: AccountState, pool: PoolRecord, dedicated: boolean, count: number, option: NodeDeallocationOption): void {
  const order: NodeState[] = ["preempted", "unusable", "startTaskFailed", "offline", "creating", "starting", "waitingForStartTask", "idle", "running"];
  const candidates = [...pool.nodes.values()]
    .filter((node) => node.isDedicated === dedicated && !node.leaving)
    .sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state))
    .slice(0, count);
  for (const node of candidates) {
    if (node.running.size === 0) {
      dropNode(account, node);
    } else if (option === "requeue") {
      for (const task of [...node.running]) requeue(account, task, true);
      dropNode(account, node);
    } else if (option === "terminate") {
      for (const task of [...node.running]) endByService(account, task, "TaskEnded", "The task was terminated because its node was removed from the pool");
      dropNode(account, node);
    } else {
      // taskcompletion and retaineddata: stop scheduling, leave once the running tasks end.
      node.leaving = true;
      node.schedulingState = "disabled";
      setNodeState(account, node, "leavingPool");
    }
  }
}

export function dropNode(account: AccountState, node: NodeRecord): void {
  node.startTaskProcess?.kill();
  node.pool.nodes.delete(node.id.toLowerCase());
}

export function setNodeState(account: AccountState, node: NodeRecord, state: NodeState): void {
  if (node.state === state) return;
  node.state = state;
  node.stateTransitionTime = account.now();
}

/** Control API: §4 "Spot/low-priority node preempted". */
export function preemptNode(account: AccountState, poolId: string, nodeId: string | undefined, recoverAfterMs: number | undefined): string {
  const pool = account.getPool(poolId);
  const candidates = [...pool.nodes.values()].filter((node) => !node.isDedicated && node.state !== "preempted");
  const node = nodeId === undefined ? candidates.find((n) => n.running.size > 0) ?? candidates[0] : pool.nodes.get(nodeId.toLowerCase());
  if (node === undefined) throw new Error(`pool ${poolId} has no low-priority node to preempt`);
  if (node.isDedicated) throw new Error(`node ${node.id} is dedicated: only low-priority nodes are preempted`);
  node.startTaskProcess?.kill();
  node.startTaskProcess = undefined;
  // Running tasks are requeued and rerun when capacity returns; requeueCount is not counted (§4, unconfirmed).
  for (const task of [...node.running]) requeue(account, task, false);
  setNodeState(account, node, "preempted");
  node.nextStepAtMs = recoverAfterMs === undefined ? undefined : Date.now() + recoverAfterMs;
  return node.id;
}

/** Control API: a preempted node re-enters the pool (creating, then starting). */
export function recoverNode(account: AccountState, poolId: string, nodeId: string): void {
  const node = account.getNode(poolId, nodeId);
  if (node.state !== "preempted") throw new Error(`node ${nodeId} is not preempted`);
  reboot(account, node);
}

export function reboot(account: AccountState, node: NodeRecord): void {
  setNodeState(account, node, "creating");
  node.startTaskInfo = undefined;
  node.nextStepAtMs = Date.now() + account.config.timing.nodeBootMs;
}

export function stepNode(account: AccountState, node: NodeRecord, nowMs: number): void {
  if (node.nextStepAtMs === undefined || nowMs < node.nextStepAtMs) return;
  if (node.state === "creating") {
    setNodeState(account, node, "starting");
    node.lastBootTime = account.now();
    node.nextStepAtMs = nowMs + account.config.timing.nodeBootMs;
  } else if (node.state === "starting") {
    node.nextStepAtMs = undefined;
    void Promise.all([mkdir(join(node.rootDir, "shared"), { recursive: true }), mkdir(join(node.rootDir, "startup"), { recursive: true })]);
    if (node.pool.startTask !== undefined) runStartTask(account, node);
    else setNodeState(account, node, "idle");
  } else if (node.state === "preempted") {
    reboot(account, node);
  } else {
    node.nextStepAtMs = undefined;
  }
}

export function afterNodeTaskEnded(account: AccountState, node: NodeRecord): void {
  if (node.leaving && node.running.size === 0) {
    dropNode(account, node);
    const pool = node.pool;
    if (pool.allocationState === "resizing" && pool.resizeDueAtMs === undefined && ![...pool.nodes.values()].some((n) => n.leaving)) {
      setAllocationState(account, pool, "steady");
    }
    return;
  }
  if (node.state === "running" && node.running.size === 0) setNodeState(account, node, "idle");
}

export function recordRecentTask(account: AccountState, node: NodeRecord, task: TaskRecord): void {
  const entry: Json = {
    taskUrl: account.url(`/jobs/${task.job.id}/tasks/${task.id}`),
    jobId: task.job.id,
    taskId: task.id,
    taskState: task.state,
    executionInfo: account.wire.executionInfo(task),
  };
  node.recentTasks = [entry, ...node.recentTasks.filter((t) => t.taskId !== task.id || t.jobId !== task.job.id)].slice(0, RECENT_TASKS);
}
