import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { JobRecord, NodeRecord, TaskRecord } from "./account-model.js";
import { takeSamples } from "./pool-autoscale.js";
import type { AccountState } from "./account-state.js";
import { runAutoScale } from "./autoscale-operations.js";
import { dropNode, stepNode } from "./compute-nodes.js";
import { setJobState } from "./job-operations.js";
import { completeResize } from "./pool-resize.js";
import { removeTaskFiles } from "./task-operations.js";
import { runTask } from "./task-runs.js";

/**
 * The account's clock: each tick deletes pools whose deletion is due, samples and evaluates autoscale,
 * lands resizes, steps nodes through boot, moves jobs through terminate/delete, and schedules active
 * tasks FIFO per job onto nodes with free slots (shared/notes/AZURE-BATCH.md §4, §5).
 */
export function tick(account: AccountState): void {
  if (account.stopped) return;
  const nowMs = Date.now();
  for (const pool of [...account.pools.values()]) {
    if (pool.state === "deleting") {
      if (nowMs >= (pool.deleteDueAtMs ?? 0)) {
        for (const node of pool.nodes.values()) dropNode(account, node);
        account.pools.delete(pool.id.toLowerCase());
        void rm(join(account.config.rootDir, pool.id.toLowerCase()), { recursive: true, force: true }).catch(() => undefined);
      }
      continue;
    }
    if (nowMs >= pool.nextSampleAtMs) takeSamples(pool, account.jobs.values(), nowMs, account.config.timing.autoScaleSampleIntervalMs);
    if (pool.enableAutoScale && pool.nextAutoScaleAtMs !== undefined && nowMs >= pool.nextAutoScaleAtMs) runAutoScale(account, pool);
    if (pool.allocationState === "resizing" && pool.resizeDueAtMs !== undefined && nowMs >= pool.resizeDueAtMs) completeResize(account, pool);
    for (const node of pool.nodes.values()) stepNode(account, node, nowMs);
  }
  for (const job of [...account.jobs.values()]) {
    if (job.stepDueAtMs !== undefined && nowMs >= job.stepDueAtMs) {
      job.stepDueAtMs = undefined;
      if (job.state === "terminating") {
        job.executionInfo.endTime = account.now();
        setJobState(account, job, "completed");
      } else if (job.state === "deleting") {
        account.jobs.delete(job.id.toLowerCase());
        for (const task of job.tasks.values()) void removeTaskFiles(account, task);
      }
    }
    if (job.state === "active") schedule(account, job);
  }
}

export function schedule(account: AccountState, job: JobRecord): void {
  if (job.queue.length === 0) return;
  const pool = account.pools.get(job.poolId.toLowerCase());
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
    runTask(account, task, node);
    if (freeSlots(node) <= 0) open = open.filter((n) => n !== node);
  }
}
