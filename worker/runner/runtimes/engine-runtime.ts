import { execFile, spawn } from "node:child_process";
import type { ContainerRuntime, ContainerSpec, StartedContainer } from "./container-runtime.js";
import { ensureEngineImages } from "./engine-images.js";
import { killProcessGroup } from "./process-group.js";

/**
 * Docker or Podman through their command-line clients (the same flags on both). The executor's
 * command is its argv, so the image's entrypoint is replaced by its first word, as TES specifies.
 * Environment values reach the client through its own environment (`--env NAME`), never its argv,
 * so they stay out of process listings.
 */
export class EngineRuntime implements ContainerRuntime {
  /**
   * `command` is the client's absolute path, so a task's PATH cannot change which client runs.
   * `clientEnv` is given to the client on top of the worker's engine settings (the runner's own
   * DOCKER_CONFIG with registry credentials, registry-login/).
   */
  constructor(
    readonly name: "docker" | "podman",
    private readonly command: string,
    private readonly clientEnv: Record<string, string> = {},
  ) {}

  notes(): string[] {
    return [];
  }

  /** Containers run as their image's user; the files keep the worker's ownership, as with `docker run -v`. */
  async prepareRoot(): Promise<void> {}

  /** Pulls the images the engine does not have yet (engine-images.ts), with the runner's registry credentials. */
  ensureImages(images: readonly string[], signal: AbortSignal): Promise<void> {
    return ensureEngineImages({ command: this.command, env: this.clientEnvironment({}) }, images, signal);
  }

  async start(spec: ContainerSpec): Promise<StartedContainer> {
    const [entrypoint, ...args] = spec.command;
    const argv = [
      "run",
      "--rm",
      "--init",
      "--name",
      spec.name,
      ...(spec.stdin ? ["--interactive"] : []),
      ...(spec.workdir === "" ? [] : ["--workdir", spec.workdir]),
      ...(spec.cpuCores === undefined ? [] : ["--cpus", `${spec.cpuCores}`]),
      ...(spec.ramBytes === undefined ? [] : ["--memory", `${spec.ramBytes}`]),
      ...spec.mounts.flatMap((mount) => [
        "--mount",
        [`type=bind`, `source=${mount.hostPath}`, `target=${mount.containerPath}`].map(csvField).join(","),
      ]),
      ...Object.keys(spec.env).flatMap((key) => ["--env", key]),
      ...(entrypoint === undefined ? [] : ["--entrypoint", entrypoint]),
      // An image named like a flag (TES allows any reference text) stays the image, never an option.
      "--",
      spec.image,
      ...args,
    ];
    const child = spawn(this.command, argv, {
      detached: true,
      stdio: [spec.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      env: this.clientEnvironment(spec.env),
    });
    const removeContainer = () =>
      new Promise<void>((resolve) => execFile(this.command, ["rm", "--force", spec.name], () => resolve()));
    return {
      process: child,
      notes: [],
      // The container outlives its client; it is stopped by name, not by pid.
      pids: Promise.resolve([]),
      async kill() {
        // The client going away does not stop the container; the engine must be told by name.
        await Promise.all([removeContainer(), killProcessGroup(child)]);
      },
      cleanup: removeContainer,
    };
  }

  /** The worker's engine settings, then the runner's own (registry credentials), then the executor's env. */
  private clientEnvironment(executorEnv: Record<string, string>): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", ...engineEnvironment(), ...this.clientEnv, ...executorEnv };
  }
}

/** The client settings that say which engine to talk to, passed on from the worker's environment. */
function engineEnvironment(): Record<string, string> {
  const keep = ["DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "CONTAINER_HOST", "XDG_RUNTIME_DIR", "HOME"];
  return Object.fromEntries(
    keep.flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key] as string]])),
  );
}

/** The --mount value is CSV: a field holding a comma or quote is quoted. */
function csvField(field: string): string {
  return /[",]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}
