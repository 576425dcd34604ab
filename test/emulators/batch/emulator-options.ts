import type { ArmEndpointOptions } from "./arm-endpoint.js";
import type { BearerOptions } from "./bearer-token.js";
import type { Quotas } from "./account-model.js";

/** How the emulator is set up; every field has a default that follows the service where one is documented. */
export interface BatchEmulatorOptions {
  /** Default "emulator". */
  accountName?: string;
  /** Base64; default a fresh random 64-byte key. */
  accountKey?: string;
  /** Default 127.0.0.1, port 0 (ephemeral). */
  host?: string;
  port?: number;
  /** Where nodes keep their files; default a temp directory removed by stop(). */
  rootDir?: string;
  /** Account quotas (shared/notes/AZURE-BATCH.md §6); defaults: 100 dedicated cores, 100 low-priority cores, 100 pools, 100 active jobs. */
  quotas?: Partial<Quotas>;
  /** Cores per VM size, matched case-insensitively; sizes not listed take the number after the family letter (Standard_D4s_v3 → 4), else 1. */
  vmSizeCores?: Record<string, number>;
  timing?: Partial<EmulatorTiming>;
  /** Accept SharedKey (default true). */
  sharedKey?: boolean;
  /** Accept bearer tokens (default: accepted, Batch audience); false refuses them. */
  bearer?: BearerOptions | false;
  /** The environment every task starts from, before the AZ_BATCH_* variables; default PATH and LANG from this process. */
  baseEnv?: Record<string, string>;
  /** Rewrites a task's argv before it runs (for example to run it in a sandbox). */
  wrapCommand?: (argv: string[], context: { poolId: string; nodeId: string; jobId?: string; taskId?: string }) => string[];
  /** AddCollection answers in any order (§3 "AddCollection results"); the emulator shuffles unless false. */
  shuffleAddCollectionResults?: boolean;
  /** Serve the unauthenticated /_emulator/ control endpoints (control-api.ts); the CLI turns them on. Default false. */
  controlApi?: boolean;
  /**
   * User-assigned identity resource ids treated as attached to every pool, standing for pools whose
   * identity was attached through ARM (the data plane cannot). A registry identityReference to any
   * other identity is refused (container-configuration.ts). Default none.
   */
  poolIdentities?: readonly string[];
  /**
   * Also serve the account's Azure Resource Manager pool resource (arm-endpoint.ts) on an https port
   * of its own: true, or the subscription and resource group it answers for. Default off.
   */
  arm?: boolean | ArmEndpointOptions;
  /** Largest request body accepted, in bytes (AddCollection's own limit is 1 MB, §3). Default 4 MiB. */
  maxBodyBytes?: number;
}

export interface EmulatorTiming {
  /** How often the emulator's clock moves pools, nodes, jobs and tasks forward. */
  tickMs: number;
  /** From a resize to its nodes existing. */
  allocationMs: number;
  /** creating → starting, and starting → idle (or the start task). */
  nodeBootMs: number;
  /** deleting / terminating → gone / completed. */
  deleteMs: number;
  /** Autoscale metric sampling; the service samples every 30 s. */
  autoScaleSampleIntervalMs: number;
  /** Evaluate autoscale at this cadence instead of the pool's autoScaleEvaluationInterval (a test accelerator); undefined keeps the pool's. */
  autoScaleEvaluationEveryMs?: number;
  /** The smallest autoScaleEvaluationInterval accepted; the service's is 5 minutes (§5). */
  minAutoScaleEvaluationIntervalMs: number;
  /** Enable AutoScale calls on one pool must be this far apart; the service's is 30 s (§3). */
  enableAutoScaleSpacingMs: number;
  /** SharedKey's ocp-date tolerance, 15 minutes at the service (§1). */
  maxClockSkewMs: number;
}

export const DEFAULT_TIMING: EmulatorTiming = {
  tickMs: 25,
  allocationMs: 100,
  nodeBootMs: 50,
  deleteMs: 100,
  autoScaleSampleIntervalMs: 30_000,
  minAutoScaleEvaluationIntervalMs: 5 * 60_000,
  enableAutoScaleSpacingMs: 30_000,
  maxClockSkewMs: 15 * 60_000,
};

export const DEFAULT_QUOTAS: Quotas = { dedicatedCores: 100, lowPriorityCores: 100, pools: 100, activeJobs: 100 };

export const API_VERSION = "2022-10-01.16.0";

export function coresOf(vmSize: string, table: Record<string, number>): number {
  const lower = vmSize.toLowerCase();
  for (const [name, cores] of Object.entries(table)) if (name.toLowerCase() === lower) return cores;
  const match = /^standard_[a-z]+(\d+)/i.exec(vmSize);
  return match === null ? 1 : Math.max(1, Number(match[1]));
}
