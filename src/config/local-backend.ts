import os from "node:os";
import path from "node:path";
import { ConfigError, EnvReader, type Env } from "./env-reader.js";

export const containerRuntimeNames = ["docker", "podman", "bwrap"] as const;
export type ContainerRuntimeName = (typeof containerRuntimeNames)[number];

/** Settings of the local compute backend (TES_BACKEND=local) and of the node-side runner it drives. */
export interface LocalBackendConfig {
  /** Where each attempt gets its work directory; state lives there, so it must survive a worker restart. */
  workDir: string;
  /** TES_DATA_DIR (the store's files among them): hidden from every sandbox, like workDir. */
  dataDir: string;
  /** Host directories that `file://` URLs (and bare absolute paths) may point into; empty refuses them all. */
  allowedDirs: string[];
  /** Forced container runtime; undefined means detect (docker, then podman, then bwrap). */
  containerRuntime: ContainerRuntimeName | undefined;
  /** Whether bwrap sandboxes get the host's network. Docker and Podman keep their default network. */
  network: boolean;
  /** How bwrap applies cpu/memory limits: "auto" (a cgroup where writable, else rlimit) or "rlimit". */
  limits: "auto" | "rlimit";
  /** Capacity shared by the attempts running at once on this host. */
  cpuCores: number;
  ramGb: number;
  /** What an attempt is counted for when its task does not say. */
  defaultTaskCpuCores: number;
  defaultTaskRamGb: number;
  /** Bytes kept from the end of each executor's stdout and stderr for the FULL view. */
  logTailBytes: number;
}

export function loadLocalBackendConfig(env: Env): LocalBackendConfig {
  const read = new EnvReader(env);
  const dataDir = read.string("TES_DATA_DIR", "data");
  const allowedDirs = read.list("TES_ALLOWED_DIRS").map((dir) => {
    if (!path.isAbsolute(dir)) {
      throw new ConfigError(`TES_ALLOWED_DIRS must hold absolute paths, got "${dir}"`);
    }
    return path.resolve(dir);
  });
  const runtime = read.optionalString("TES_CONTAINER_RUNTIME");
  const hostRamGb = Math.floor(os.totalmem() / 2 ** 30);
  return {
    workDir: path.resolve(read.string("TES_LOCAL_WORK_DIR", path.join(dataDir, "local-backend"))),
    dataDir: path.resolve(dataDir),
    allowedDirs,
    containerRuntime:
      runtime === undefined ? undefined : read.oneOf("TES_CONTAINER_RUNTIME", containerRuntimeNames, "bwrap"),
    network: read.boolean("TES_LOCAL_NETWORK", false),
    limits: read.oneOf("TES_LOCAL_LIMITS", ["auto", "rlimit"], "auto"),
    cpuCores: read.number("TES_LOCAL_CPU_CORES", os.availableParallelism(), { min: 0.1 }),
    ramGb: read.number("TES_LOCAL_RAM_GB", Math.max(hostRamGb, 1), { min: 0.1 }),
    defaultTaskCpuCores: read.number("TES_LOCAL_DEFAULT_CPU_CORES", 1, { min: 0.01 }),
    defaultTaskRamGb: read.number("TES_LOCAL_DEFAULT_RAM_GB", 0.5, { min: 0.001 }),
    logTailBytes: read.integer("TES_LOG_TAIL_BYTES", 16 * 1024, { min: 0, max: 16 * 1024 * 1024 }),
  };
}
