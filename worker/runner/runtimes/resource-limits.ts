import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";

/**
 * CPU and memory limits for a sandbox that has no engine to set them (bwrap).
 *
 * Preferred: a cgroup of its own, created under the worker's own cgroup (v2 `memory.max`/`cpu.max`,
 * or v1 `memory.limit_in_bytes`/`cpu.cfs_quota_us`), which also lets every process of the task be
 * killed at once. When the cgroup tree is not writable (an unprivileged worker, a read-only
 * /sys/fs/cgroup), memory falls back to RLIMIT_AS through `prlimit`, which caps each process's
 * address space rather than the task's total, and cpu is bounded only by the backend's scheduling.
 */
export interface LimitGroup {
  /** "cgroup v2", "cgroup v1" or "rlimit": for the task's system_logs. */
  readonly mechanism: string;
  /** The cgroup directories holding every process started under `wrap` (none for rlimit). */
  readonly dirs: readonly string[];
  /** The command line that starts `argv` under the limits. */
  wrap(argv: string[]): string[];
  /** Kills every process still in the group (no-op for rlimit). */
  killAll(): Promise<void>;
  /** Removes the group once its processes are gone. */
  remove(): Promise<void>;
}

export type LimitMechanism = "auto" | "rlimit";

export interface Limits {
  cpuCores: number | undefined;
  ramBytes: number | undefined;
}

interface CgroupLayout {
  version: 1 | 2;
  /** v2: the one directory; v1: the memory and cpu controller directories of this process. */
  parents: { memory: string; cpu?: string };
}

let layoutPromise: Promise<CgroupLayout | undefined> | undefined;

/** `mechanism: "rlimit"` skips cgroups even where they are writable (TES_LOCAL_LIMITS=rlimit). */
export function createLimitGroup(name: string, limits: Limits, mechanism: LimitMechanism = "auto"): Promise<LimitGroup> {
  if (mechanism === "rlimit") return Promise.resolve(rlimitGroup(limits));
  layoutPromise ??= detectCgroupLayout();
  return layoutPromise.then(async (layout) => {
    if (layout !== undefined) {
      try {
        return await createCgroup(layout, name, limits);
      } catch {
        // Fall through: a cgroup tree that looked writable but refused this group.
      }
    }
    return rlimitGroup(limits);
  });
}

async function detectCgroupLayout(): Promise<CgroupLayout | undefined> {
  let own: string;
  try {
    own = await fs.readFile("/proc/self/cgroup", "utf8");
  } catch {
    return undefined;
  }
  const lines = own.trim().split("\n").map((line) => line.split(":"));
  const probe = async (layout: CgroupLayout) => {
    const dir = path.join(layout.parents.memory, `tes-probe-${process.pid}`);
    try {
      await fs.mkdir(dir);
      const ok = existsSync(path.join(dir, layout.version === 2 ? "memory.max" : "memory.limit_in_bytes"));
      await fs.rmdir(dir);
      return ok ? layout : undefined;
    } catch {
      return undefined;
    }
  };
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) {
    const unified = lines.find((fields) => fields[0] === "0" && fields[1] === "");
    if (unified === undefined) return undefined;
    const dir = path.join("/sys/fs/cgroup", unified.slice(2).join(":"));
    return probe({ version: 2, parents: { memory: dir, cpu: dir } });
  }
  const controllerDir = (controller: string) => {
    const line = lines.find((fields) => (fields[1] ?? "").split(",").includes(controller));
    if (line === undefined) return undefined;
    const mount = [line[1] ?? "", controller]
      .map((candidate) => path.join("/sys/fs/cgroup", candidate))
      .find((candidate) => existsSync(candidate));
    return mount === undefined ? undefined : path.join(mount, line.slice(2).join(":"));
  };
  const memory = controllerDir("memory");
  if (memory === undefined) return undefined;
  return probe({ version: 1, parents: { memory, cpu: controllerDir("cpu") } });
}

async function createCgroup(layout: CgroupLayout, name: string, limits: Limits): Promise<LimitGroup> {
  // A suffix of its own, so a group left behind by a worker that was killed never blocks a new one.
  const groupName = `tes-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const memoryDir = path.join(layout.parents.memory, groupName);
  const dirs = [memoryDir];
  await fs.mkdir(memoryDir);
  try {
    if (layout.version === 2) {
      if (limits.ramBytes !== undefined) await fs.writeFile(path.join(memoryDir, "memory.max"), `${limits.ramBytes}`);
      await fs.writeFile(path.join(memoryDir, "memory.swap.max"), "0").catch(() => undefined);
      if (limits.cpuCores !== undefined && existsSync(path.join(memoryDir, "cpu.max"))) {
        await fs.writeFile(path.join(memoryDir, "cpu.max"), `${Math.ceil(limits.cpuCores * 100_000)} 100000`);
      }
    } else {
      if (limits.ramBytes !== undefined) {
        await fs.writeFile(path.join(memoryDir, "memory.limit_in_bytes"), `${limits.ramBytes}`);
        // Without swap accounting this file is absent; the memory limit alone still applies.
        await fs.writeFile(path.join(memoryDir, "memory.memsw.limit_in_bytes"), `${limits.ramBytes}`).catch(() => undefined);
      }
      if (limits.cpuCores !== undefined && layout.parents.cpu !== undefined && layout.parents.cpu !== layout.parents.memory) {
        const cpuDir = path.join(layout.parents.cpu, groupName);
        await fs.mkdir(cpuDir);
        dirs.push(cpuDir);
        await fs.writeFile(path.join(cpuDir, "cpu.cfs_period_us"), "100000");
        await fs.writeFile(path.join(cpuDir, "cpu.cfs_quota_us"), `${Math.ceil(limits.cpuCores * 100_000)}`);
      }
    }
  } catch (error) {
    await Promise.all(dirs.map((dir) => fs.rmdir(dir).catch(() => undefined)));
    throw error;
  }
  const procsFiles = dirs.map((dir) => path.join(dir, "cgroup.procs"));
  const killAll = async () => {
    if (layout.version === 2 && existsSync(path.join(memoryDir, "cgroup.kill"))) {
      await fs.writeFile(path.join(memoryDir, "cgroup.kill"), "1").catch(() => undefined);
    }
    for (let round = 0; round < 40; round += 1) {
      const pids = await readPids(path.join(memoryDir, "cgroup.procs"));
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await sleep(50);
    }
  };
  return {
    mechanism: `cgroup v${layout.version}`,
    dirs,
    // The shell joins the groups first, so everything it then execs and forks is inside them.
    wrap: (argv) => [
      "/bin/sh",
      "-c",
      'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"',
      "tes-cgroup-join",
      `${procsFiles.length}`,
      ...procsFiles,
      ...argv,
    ],
    killAll,
    async remove() {
      await killAll();
      for (const dir of dirs) {
        for (let round = 0; round < 20; round += 1) {
          try {
            await fs.rmdir(dir);
            break;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
            await sleep(50);
          }
        }
      }
    },
  };
}

function rlimitGroup(limits: Limits): LimitGroup {
  return {
    mechanism: "rlimit",
    dirs: [],
    wrap: (argv) => (limits.ramBytes === undefined ? argv : ["prlimit", `--as=${limits.ramBytes}`, "--", ...argv]),
    killAll: async () => undefined,
    remove: async () => undefined,
  };
}

async function readPids(file: string): Promise<number[]> {
  try {
    return (await fs.readFile(file, "utf8")).split("\n").filter((line) => line !== "").map(Number);
  } catch {
    return [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Kills every process in these cgroups and removes them: how a worker stops the sandbox of one
 * that died, whatever moment it died at. Directories that are gone already are skipped.
 */
export async function killCgroups(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    if (!dir.includes("/tes-") || !existsSync(path.join(dir, "cgroup.procs"))) continue;
    for (let round = 0; round < 40; round += 1) {
      const pids = await readPids(path.join(dir, "cgroup.procs"));
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await sleep(50);
    }
    await fs.rmdir(dir).catch(() => undefined);
  }
}
