import type { JobRecord, NodeRecord, PoolRecord, Quotas, Stamp, TaskRecord } from "./account-model.js";
import { errors } from "./batch-error.js";
import type { EmulatorTiming } from "./emulator-options.js";
import type { FaultPlan } from "./fault-plan.js";
import { WireForms } from "./wire-forms.js";

/** How an account is set up: its name, where its nodes keep files, quotas, timing and faults. */
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

/**
 * The state every part of the emulated account works on: pools and jobs by lower-cased id, the
 * ETag counter, and look-ups that throw the service's not-found errors. The operations on it live
 * beside it, one concept per file (pool-lifecycle.ts, pool-resize.ts, compute-nodes.ts, ...).
 */
export class AccountState {
  readonly pools = new Map<string, PoolRecord>();
  readonly jobs = new Map<string, JobRecord>();
  /** The records' wire forms, for the HTTP layer. */
  readonly wire: WireForms;
  // A bigint: the service's ETags are 60-bit numbers, past where a double can count by ones.
  private etagCounter = 0x8d3d623cd661246n;
  /** Set once the account stops: process outcomes arriving later are ignored. */
  stopped = false;

  constructor(readonly config: AccountConfig) {
    this.wire = new WireForms(config.baseUrl);
  }

  now(): Date {
    return new Date();
  }

  stamp(record: Stamp): void {
    this.etagCounter += BigInt(1 + Math.floor(Math.random() * 16));
    record.eTag = `0x${this.etagCounter.toString(16).toUpperCase()}`;
    record.lastModified = this.now();
  }

  freshStamp(): Stamp {
    const stamp: Stamp = { eTag: "", lastModified: this.now() };
    this.stamp(stamp);
    return stamp;
  }

  url(path: string): string {
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

  coresInUse(dedicated: boolean): number {
    let cores = 0;
    for (const pool of this.pools.values()) {
      for (const node of pool.nodes.values()) {
        if (node.isDedicated === dedicated && node.state !== "preempted") cores += pool.coresPerNode;
      }
    }
    return cores;
  }

  activeJobCount(): number {
    let count = 0;
    for (const job of this.jobs.values()) if (job.state !== "completed") count += 1;
    return count;
  }
}
