import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import path from "node:path";
import type { ContainerRuntimeName } from "../../../src/config/local-backend.js";
import { BwrapRuntime, type BwrapOptions } from "./bwrap-runtime.js";
import { RuntimeUnavailableError, type ContainerRuntime } from "./container-runtime.js";
import { EngineRuntime } from "./engine-runtime.js";

const installHint =
  "No container runtime is available on this host: start a Docker or Podman engine, or install " +
  "bubblewrap (Debian/Ubuntu package `bubblewrap`) for the sandbox runtime.";

/**
 * The runtime to use: the one asked for, or the first that works of docker and podman (their
 * engine answers `info`) and bwrap (a trial sandbox starts). Throws RuntimeUnavailableError with one
 * sentence on what to install when none does.
 */
export async function detectRuntime(
  wanted: ContainerRuntimeName | undefined,
  bwrapOptions: BwrapOptions,
  /** Given to a docker or podman client on top of the worker's settings (EngineRuntime). */
  engineClientEnv: Record<string, string> = {},
): Promise<ContainerRuntime> {
  const candidates: ContainerRuntimeName[] = wanted === undefined ? ["docker", "podman", "bwrap"] : [wanted];
  for (const name of candidates) {
    const runtime = await tryRuntime(name, bwrapOptions, engineClientEnv);
    if (runtime !== undefined) return runtime;
  }
  if (wanted === "bwrap") {
    throw new RuntimeUnavailableError(
      "TES_CONTAINER_RUNTIME is bwrap but bubblewrap cannot start a sandbox here: install the Debian/Ubuntu package " +
        "`bubblewrap` and allow user namespaces, or run the worker as root.",
    );
  }
  if (wanted !== undefined) {
    throw new RuntimeUnavailableError(
      `TES_CONTAINER_RUNTIME is ${wanted} but its engine does not answer \`${wanted} info\`: start the ${wanted} engine, ` +
        "or unset TES_CONTAINER_RUNTIME to fall back to bubblewrap.",
    );
  }
  throw new RuntimeUnavailableError(installHint);
}

async function tryRuntime(name: ContainerRuntimeName, bwrapOptions: BwrapOptions, engineClientEnv: Record<string, string>): Promise<ContainerRuntime | undefined> {
  const command = await findOnPath(name === "bwrap" ? bwrapOptions.command ?? "bwrap" : name);
  if (command === undefined) return undefined;
  if (name === "bwrap") {
    const trial = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--die-with-parent", "true"];
    if (!(await succeeds(command, trial))) return undefined;
    // A root worker runs executors as nobody (util-linux setpriv, inside the sandbox).
    const setpriv = process.getuid?.() === 0 ? await findOnPath("setpriv") : undefined;
    return new BwrapRuntime({
      ...bwrapOptions,
      command,
      ...(setpriv === undefined ? {} : { sandboxUser: { uid: 65534, gid: 65534 }, setprivCommand: setpriv }),
    });
  }
  return (await succeeds(command, ["info"])) ? new EngineRuntime(name, command, engineClientEnv) : undefined;
}

function succeeds(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (error) => resolve(error === null));
  });
}

async function findOnPath(command: string): Promise<string | undefined> {
  const candidates = command.includes("/")
    ? [command]
    : (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":").filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
