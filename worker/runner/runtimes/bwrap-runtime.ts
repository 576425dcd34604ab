import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Mount } from "../task-mounts.js";
import { hostPathOf } from "../task-mounts.js";
import type { ContainerRuntime, ContainerSpec, StartedContainer } from "./container-runtime.js";
import { killProcessGroup } from "./process-group.js";
import { createLimitGroup, type LimitMechanism } from "./resource-limits.js";

export interface BwrapOptions {
  /** Give the sandbox the host's network (TES_LOCAL_NETWORK). */
  network: boolean;
  /**
   * The unprivileged user a root worker's executors run as (bwrap sets up the sandbox as root, then
   * setpriv becomes this user), so a task cannot read what only root may. Undefined: the worker's
   * own user.
   */
  sandboxUser?: { uid: number; gid: number };
  /** Host paths the sandbox must not see even read-only (other attempts' work directories). */
  hiddenPaths: readonly string[];
  /** "auto": a cgroup per executor where writable, else rlimit; "rlimit": never touch cgroups. */
  limits?: LimitMechanism;
  /** The bwrap and setpriv binaries (absolute paths once detected). */
  command?: string;
  setprivCommand?: string;
}

/** Top-level host entries the sandbox gets fresh instead of bound: its own /dev, /proc and /tmp. */
const freshTopLevel = new Set(["/dev", "/proc", "/tmp"]);

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A bubblewrap sandbox standing in for a container engine: the host's userland read-only, the
 * task's paths bound at their container locations (and nowhere else), a private /tmp, its own PID,
 * IPC and UTS namespaces, no capabilities, and no network unless configured. The image is ignored.
 *
 * The root is a fresh tmpfs holding read-only binds of the host's top-level entries, so a task path
 * such as /cromwell-executions gets a mount point without touching the host. Host directories on the
 * way to a task path (/work for /work/.command.run) are rebuilt the same way one level down.
 */
export class BwrapRuntime implements ContainerRuntime {
  readonly name = "bwrap" as const;

  constructor(private readonly options: BwrapOptions) {}

  notes(images: readonly string[]): string[] {
    const distinct = [...new Set(images)];
    const user = this.options.sandboxUser;
    const who =
      user !== undefined
        ? `as uid ${user.uid}`
        : process.getuid?.() === 0
          ? "as root without capabilities (setpriv was not found)"
          : `as uid ${process.getuid?.() ?? "?"}`;
    return [
      `container runtime bwrap: the image${distinct.length === 1 ? "" : "s"} ${distinct.join(", ")} ` +
        `${distinct.length === 1 ? "is" : "are"} ignored; executors run on this host's userland, read-only, ` +
        `${who}, ${this.options.network ? "with" : "without"} network`,
    ];
  }

  /** The sandbox's user owns the task's files, so executors can write where the task says. */
  async prepareRoot(root: string): Promise<void> {
    const user = this.options.sandboxUser;
    if (user !== undefined) await chownTree(root, user.uid, user.gid);
  }

  /** bwrap runs the host's userland and ignores images (see notes): there is nothing to pull. */
  async ensureImages(): Promise<void> {}

  async start(spec: ContainerSpec): Promise<StartedContainer> {
    const mounts = [...spec.mounts];
    // bwrap cannot chdir into a directory that does not exist; an engine would create it.
    if (spec.workdir !== "" && !coveredBy(spec.workdir, mounts) && !existsSync(spec.workdir)) {
      const hostPath = hostPathOf(spec.root, spec.workdir);
      await fs.mkdir(hostPath, { recursive: true });
      await this.prepareRoot(hostPath);
      mounts.push({ containerPath: spec.workdir, hostPath, kind: "directory" });
    }
    mounts.sort((a, b) => a.containerPath.length - b.containerPath.length);
    const user = this.options.sandboxUser;
    const args = [
      "--die-with-parent",
      "--new-session",
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      "--unshare-cgroup-try",
      ...(this.options.network ? [] : ["--unshare-net"]),
      "--cap-drop",
      "ALL",
      // Only to become the sandbox's user: setpriv's change of uid then clears every capability,
      // and bwrap's no_new_privs keeps setuid programs from bringing any back.
      ...(user === undefined ? [] : ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]),
      "--hostname",
      "tes-task",
      ...(await userlandBinds(mounts.map((mount) => mount.containerPath), this.options.hiddenPaths)),
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      "--perms",
      "1777",
      "--tmpfs",
      "/tmp",
      ...mountPointParents(mounts).flatMap((dir) => ["--perms", "0755", "--dir", dir]),
      ...mounts.flatMap((mount) => ["--bind", mount.hostPath, mount.containerPath]),
      "--remount-ro",
      "/",
      "--clearenv",
      ...Object.entries({ PATH: defaultPath, HOME: "/tmp", ...spec.env }).flatMap(([key, value]) => [
        "--setenv",
        key,
        value,
      ]),
      ...(spec.workdir === "" ? [] : ["--chdir", spec.workdir]),
    ];
    const limits = await createLimitGroup(
      spec.name,
      { cpuCores: spec.cpuCores, ramBytes: spec.ramBytes },
      this.options.limits ?? "auto",
    );
    await spec.beforeSpawn?.({ cgroups: [...limits.dirs] });
    // The options (the task's environment among them) go through a pipe, not argv, so they stay out
    // of the host's process listings; the task's environment never reaches a host process's own.
    const becomeUser =
      user === undefined
        ? []
        : [this.options.setprivCommand ?? "setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--"];
    const [file, ...argv] = limits.wrap([this.options.command ?? "bwrap", "--args", "3", "--", ...becomeUser, ...spec.command]);
    const child = spawn(file as string, argv, {
      detached: true,
      stdio: [spec.stdin ? "pipe" : "ignore", "pipe", "pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? defaultPath },
    });
    const argsPipe = child.stdio[3] as Writable | null;
    argsPipe?.on("error", () => undefined);
    argsPipe?.end(Buffer.from([...args, "--info-fd", "4"].map((arg) => `${arg}\0`).join("")));
    const pids = sandboxPids(child.pid, child.stdio[4] as Readable | null);
    const limited = [
      ...(spec.cpuCores === undefined ? [] : [`${spec.cpuCores} CPU cores`]),
      ...(spec.ramBytes === undefined ? [] : [`${spec.ramBytes} bytes of memory`]),
    ];
    return {
      process: child,
      pids,
      notes:
        limited.length === 0
          ? []
          : [
              limits.mechanism === "rlimit"
                ? `limits: ${spec.ramBytes === undefined ? "no memory limit" : `RLIMIT_AS of ${spec.ramBytes} bytes per process`}; ` +
                  "CPU is not limited without a cgroup (none writable here, or TES_LOCAL_LIMITS=rlimit)"
                : `limits: ${limited.join(" and ")} through ${limits.mechanism}`,
            ],
      async kill() {
        // The namespace's init first: its death ends every process inside at once, whether or not
        // the parent-death signal reaches it when the monitor goes.
        const [, init] = await Promise.race([pids, new Promise<number[]>((resolve) => setTimeout(() => resolve([]), 200))]);
        // While the monitor runs, the init's pid is still its child's: it cannot name another process.
        if (init !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(init, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
        await killProcessGroup(child);
        await limits.killAll();
      },
      cleanup: () => limits.remove(),
    };
  }
}

/** The monitor's pid and, from bwrap's --info-fd report, the pid of the namespace's init. */
function sandboxPids(monitor: number | undefined, info: Readable | null): Promise<number[]> {
  const known = monitor === undefined ? [] : [monitor];
  if (info === null) return Promise.resolve(known);
  return new Promise((resolve) => {
    let text = "";
    // bwrap may keep the descriptor open while it runs: take the report as soon as it is whole.
    const parse = () => {
      try {
        const pid = (JSON.parse(text) as { "child-pid"?: unknown })["child-pid"];
        return typeof pid === "number" ? [...known, pid] : known;
      } catch {
        return undefined;
      }
    };
    info.setEncoding("utf8");
    info.on("data", (chunk: string) => {
      text += chunk;
      const parsed = parse();
      if (parsed !== undefined) resolve(parsed);
    });
    info.on("error", () => resolve(known));
    info.on("close", () => resolve(parse() ?? known));
  });
}

/**
 * Directories on the way to the task's mount points that neither the host nor a mount provides
 * (/cromwell-executions for /cromwell-executions/wf/call, /tmp/a for /tmp/a/b), made readable for
 * the sandbox's user; bwrap would otherwise create them for root alone.
 */
function mountPointParents(mounts: readonly Mount[]): string[] {
  const parents = new Set<string>();
  for (const mount of mounts) {
    const segments = mount.containerPath.split("/").filter(Boolean);
    for (let depth = 1; depth < segments.length; depth += 1) {
      const dir = `/${segments.slice(0, depth).join("/")}`;
      if (dir === "/tmp" || coveredBy(dir, mounts)) continue;
      if (dir.startsWith("/tmp/") || !existsSync(dir)) parents.add(dir);
    }
  }
  return [...parents].sort((a, b) => a.length - b.length);
}

function coveredBy(containerPath: string, mounts: readonly Mount[]): boolean {
  return mounts.some(
    (mount) => containerPath === mount.containerPath || containerPath.startsWith(`${mount.containerPath}/`),
  );
}

/**
 * Read-only binds of the host's filesystem, leaving out /dev, /proc, /tmp, the hidden paths, and
 * the task's paths: a host directory that leads to a task path becomes an empty directory on the
 * tmpfs root holding binds of its other entries, so the task path can be mounted inside it.
 */
async function userlandBinds(taskPaths: readonly string[], hiddenPaths: readonly string[]): Promise<string[]> {
  const args: string[] = [];
  const leadsTo = (dir: string, target: string) => target.startsWith(dir === "/" ? "/" : `${dir}/`);
  const visit = async (dir: string) => {
    let entries: string[];
    try {
      entries = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const entry of entries.sort()) {
      const hostPath = path.posix.join(dir, entry);
      if (dir === "/" && freshTopLevel.has(hostPath)) continue;
      if (taskPaths.includes(hostPath) || hiddenPaths.includes(hostPath)) continue;
      const stat = await fs.lstat(hostPath).catch(() => undefined);
      if (stat === undefined) continue;
      if (stat.isSymbolicLink()) {
        args.push("--symlink", await fs.readlink(hostPath), hostPath);
      } else if (stat.isDirectory() && [...taskPaths, ...hiddenPaths].some((target) => leadsTo(hostPath, target))) {
        args.push("--perms", (stat.mode & 0o7777).toString(8).padStart(4, "0"), "--dir", hostPath);
        await visit(hostPath);
      } else {
        args.push("--ro-bind-try", hostPath, hostPath);
      }
    }
  };
  await visit("/");
  return args;
}

/** Gives a file or a tree to a user without following symlinks (lchown), the tree's root included. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(dir, uid, gid);
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory()) return;
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await fs.lchown(child, uid, gid);
  }
}
