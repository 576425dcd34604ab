import type { Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";

/**
 * A compute backend: where a task's containers really run. A backend knows nothing of HTTP, the
 * store or the queue; the worker calls it, records what it answers, and moves the task's state.
 * Every method works on many tasks at once, so a poll cycle costs calls per pool or job, not per
 * task. Every method is idempotent: the worker may call it again after a crash.
 *
 * Backends are chosen by TES_BACKEND and pass one conformance suite (worker/backends/conformance).
 */
export interface ComputeBackend {
  readonly capabilities: BackendCapabilities;

  /**
   * Starts attempts. A task already submitted under the same attemptId must not start twice:
   * answer with its existing handle. Results come back in the order of `attempts`.
   */
  submit(attempts: readonly Attempt[], options?: CallOptions): Promise<SubmitOutcome[]>;

  /** Where each attempt stands now, one entry per handle, in order. */
  poll(handles: readonly string[], options?: CallOptions): Promise<AttemptStatus[]>;

  /** Stops attempts and their processes; an attempt already ended is left as it is. */
  cancel(handles: readonly string[], options?: CallOptions): Promise<void>;

  /** Frees what an ended attempt still holds (work directories, Batch tasks) once its result is read. */
  release(handles: readonly string[], options?: CallOptions): Promise<void>;

  close(): Promise<void>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface BackendCapabilities {
  /** "local", "azure-batch", ... */
  readonly name: string;
  /** backend_parameters keys accepted, in their canonical spelling (matched case-insensitively). */
  readonly backendParameters: readonly string[];
  /** URL schemes and locations for service-info's `storage`. */
  readonly storage: readonly string[];
}

export interface Attempt {
  taskId: string;
  /** 0 for the first attempt; one more for each retry after preemption. */
  attempt: number;
  /** A stable id for this attempt, `${taskId}-${attempt}`: the idempotency key of submit. */
  attemptId: string;
  /** The whole task, with backend_parameters already reduced to the supported keys. */
  task: Task;
}

export type SubmitOutcome =
  | { kind: "submitted"; handle: string }
  /** Quota or capacity blocks it: the task stays QUEUED with this reason, and is tried again. */
  | { kind: "blocked"; reason: string }
  /** It can never run as asked (no VM size fits, an image the backend refuses): SYSTEM_ERROR. */
  | { kind: "rejected"; reason: string };

export type AttemptStatus =
  | { phase: "queued"; reason?: string }
  | { phase: "initializing" }
  | { phase: "running"; executorLogs?: ExecutorResult[] }
  | { phase: "ended"; result: AttemptResult }
  /** The node was reclaimed: the worker retries the task or ends it PREEMPTED. */
  | { phase: "preempted"; reason: string }
  /** The backend no longer knows the handle (lost, deleted): the worker treats it as a system error. */
  | { phase: "unknown"; reason: string };

/** The result document the node-side sequence writes, as the backend read it back. */
export interface AttemptResult {
  outcome: "complete" | "executor_error" | "system_error" | "canceled";
  startTime?: string;
  endTime?: string;
  executors: ExecutorResult[];
  outputs: OutputFileResult[];
  /**
   * Bytes filetransfer downloaded for the attempt's inputs, content inputs included (files that
   * failed count nothing). Absent when the downloads never ran, or from a runner that predates it.
   */
  inputBytes?: bigint;
  systemLogs: string[];
  metadata?: Record<string, string>;
}

export interface ExecutorResult {
  exitCode: number;
  startTime?: string;
  endTime?: string;
  /** Bounded tails, for the FULL view. */
  stdout?: string;
  stderr?: string;
}

export interface OutputFileResult {
  url: string;
  path: string;
  sizeBytes: bigint;
}
