import type { Json, JobRecord, PoolRecord, Quotas, TaskRecord } from "./account-model.js";
import { AccountState, type AccountConfig } from "./account-state.js";
import { tick } from "./account-clock.js";
import { disableAutoScale, enableAutoScale, evaluateAutoScale, evaluateAutoScaleNow } from "./autoscale-operations.js";
import type { BatchError } from "./batch-error.js";
import { preemptNode, recoverNode } from "./compute-nodes.js";
import { addJob, deleteJob, jobForTasks, taskCounts, terminateJob } from "./job-operations.js";
import { addPool, deletePool } from "./pool-lifecycle.js";
import { resizePool, stopResize } from "./pool-resize.js";
import { addTask, addTaskCollection, deleteTask, listTasks, taskDir, terminateTask } from "./task-operations.js";

export type { AccountConfig } from "./account-state.js";

/**
 * The emulated Batch account: pools and their nodes, jobs and their tasks, moved forward by a clock
 * as the service moves them (shared/notes/AZURE-BATCH.md §4 task lifecycle, §5 pools, §6 quotas).
 * Operations throw BatchError with the service's codes; the HTTP layer turns them into answers.
 * This class is the account's surface; each operation lives in the file of its concept.
 */
export class BatchAccount extends AccountState {
  private timer: NodeJS.Timeout | undefined;

  constructor(config: AccountConfig) {
    super(config);
  }

  start(): void {
    this.timer = setInterval(() => tick(this), this.config.timing.tickMs);
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

  // Pools (§3, §5)
  addPool(body: Json, attached: { identities?: readonly string[]; armProperties?: Json } = {}): PoolRecord {
    return addPool(this, body, attached);
  }
  deletePool(id: string): void {
    deletePool(this, id);
  }
  resizePool(id: string, body: Json): void {
    resizePool(this, id, body);
  }
  stopResize(id: string): void {
    stopResize(this, id);
  }
  enableAutoScale(id: string, body: Json): void {
    enableAutoScale(this, id, body);
  }
  disableAutoScale(id: string): void {
    disableAutoScale(this, id);
  }
  evaluateAutoScale(id: string, body: Json): Json {
    return evaluateAutoScale(this, id, body);
  }
  /** Control API: evaluate a pool's formula now, as the service does at each interval. */
  evaluateAutoScaleNow(id: string): void {
    evaluateAutoScaleNow(this, id);
  }

  // Nodes (control API)
  preemptNode(poolId: string, nodeId: string | undefined, recoverAfterMs: number | undefined): string {
    return preemptNode(this, poolId, nodeId, recoverAfterMs);
  }
  recoverNode(poolId: string, nodeId: string): void {
    recoverNode(this, poolId, nodeId);
  }

  // Jobs (§3)
  addJob(body: Json): JobRecord {
    return addJob(this, body);
  }
  terminateJob(id: string, body: Json): void {
    terminateJob(this, id, body);
  }
  deleteJob(id: string): void {
    deleteJob(this, id);
  }
  jobForTasks(id: string): JobRecord {
    return jobForTasks(this, id);
  }
  taskCounts(id: string): Json {
    return taskCounts(this, id);
  }

  // Tasks (§3, §4)
  addTask(jobId: string, body: Json): TaskRecord {
    return addTask(this, jobId, body);
  }
  addTaskCollection(jobId: string, body: Json, errorContext: (err: BatchError) => Json): Json[] {
    return addTaskCollection(this, jobId, body, errorContext);
  }
  listTasks(jobId: string): TaskRecord[] {
    return listTasks(this, jobId);
  }
  terminateTask(jobId: string, taskId: string): void {
    terminateTask(this, jobId, taskId);
  }
  deleteTask(jobId: string, taskId: string): void {
    deleteTask(this, jobId, taskId);
  }
  taskDir(task: TaskRecord): string | undefined {
    return taskDir(this, task);
  }
}
