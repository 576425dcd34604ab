import type { ChildProcess } from "node:child_process";
import type { Mount } from "../task-mounts.js";

/**
 * Runs one executor in a container. A runtime only builds and starts the process; the runner feeds
 * stdin, collects stdout and stderr, waits for the exit and stops the process tree on cancel.
 */
export interface ContainerRuntime {
  readonly name: "docker" | "podman" | "bwrap";

  /** Lines for the task's system_logs about how this runtime treats the task (bwrap ignores images). */
  notes(images: readonly string[]): string[];

  /**
   * Readies task files for the container's user: the whole root after the downloads, and each
   * stdout/stderr file the runner creates. Never follows symlinks.
   */
  prepareRoot(hostPath: string): Promise<void>;

  /**
   * Makes the task's images available before any executor runs, so that an image that cannot be
   * had (not found, registry sign-in refused, registry unreachable) is the system's failure, not the
   * user's executor's. Throws ImagePullError for the first image that cannot be had.
   */
  ensureImages(images: readonly string[], signal: AbortSignal): Promise<void>;

  /** Starts the executor. The process is the leader of its own process group. */
  start(spec: ContainerSpec): Promise<StartedContainer>;
}

export interface ContainerSpec {
  /** Unique per attempt and executor, usable as a container name: [a-zA-Z0-9_.-]. */
  name: string;
  image: string;
  command: string[];
  /** Container path; empty means the image's default. */
  workdir: string;
  env: Record<string, string>;
  mounts: Mount[];
  /** The host directory standing for the container root (for a workdir no mount covers). */
  root: string;
  /** Whether the runner will write to the process's stdin. */
  stdin: boolean;
  cpuCores: number | undefined;
  ramBytes: number | undefined;
  /**
   * Told what will hold the container's processes just before they exist (bwrap: its cgroups),
   * and awaited, so a record of them can be on disk first for whoever must stop them later.
   */
  beforeSpawn?: (holders: SandboxHolders) => Promise<void>;
}

export interface SandboxHolders {
  cgroups: string[];
}

export interface StartedContainer {
  process: ChildProcess;
  /** Lines for system_logs about this start (how limits were applied). */
  notes: string[];
  /**
   * Host pids that hold the container's processes (for bwrap: the monitor and the namespace's
   * init, whose death ends every process inside), so another process can stop them if this one
   * dies. Resolves once known; empty when the runtime has none to give.
   */
  pids: Promise<number[]>;
  /** Stops the process and everything it started; resolves once they are gone. */
  kill(): Promise<void>;
  /** Frees what the container still holds (cgroups, the container record); called once after exit. */
  cleanup(): Promise<void>;
}

/** Why no runtime can be had: one sentence on what to install. */
export class RuntimeUnavailableError extends Error {
  override readonly name = "RuntimeUnavailableError";
}

/** An executor image the engine could not pull: the image as the task names it and the engine's reason. */
export class ImagePullError extends Error {
  override readonly name = "ImagePullError";
  constructor(
    readonly image: string,
    readonly reason: string,
  ) {
    super(`pulling the image ${image} failed: ${reason}`);
  }
}
