import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { acrRefreshToken, ACR_TOKEN_USERNAME, imdsAccessToken, type AcrEndpoints } from "./acr-token.js";
import type { RegistryLoginEntry } from "./registry-logins.js";

/**
 * The runner's own sign-in to private registries, for the executors' image pulls. On Azure Batch the
 * runner runs in a container and pulls through the node's Docker socket; credentials are a client
 * matter (the client sends them with each pull), so the runner's client needs them, whatever Batch
 * itself logged in to on the host.
 *
 * Rather than `docker login` (which needs the engine, and stores credentials in the host user's
 * config), the credentials go to a Docker config directory of this attempt's own: a private
 * temporary directory (0700) holding `config.json` (0600) with `auths`, which the runtime's client
 * reads through DOCKER_CONFIG (Podman: REGISTRY_AUTH_FILE). It lives in the runner's container, not in the Batch task directory
 * (whose files Batch serves to anyone who may read the task), and is removed when the attempt ends.
 */
export class RegistryLogin {
  private signedInAt: number | undefined;

  private constructor(
    private readonly entries: readonly RegistryLoginEntry[],
    private readonly endpoints: AcrEndpoints,
    /** The DOCKER_CONFIG directory the container client is given. */
    readonly dockerConfigDir: string,
    private readonly refreshAfterMs: number,
    private readonly now: () => number,
  ) {}

  static async create(
    entries: readonly RegistryLoginEntry[],
    endpoints: AcrEndpoints,
    options: { refreshAfterMs?: number; now?: () => number } = {},
  ): Promise<RegistryLogin> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "tes-docker-config-"));
    await fs.chmod(dir, 0o700);
    // ACR refresh tokens last about 3 hours; signing in again after 1 hour keeps a later executor's pull valid.
    return new RegistryLogin(entries, endpoints, dir, options.refreshAfterMs ?? 3600_000, options.now ?? Date.now);
  }

  /**
   * What the container client is given: Docker reads DOCKER_CONFIG; Podman reads REGISTRY_AUTH_FILE,
   * a file of the same `auths` form.
   */
  get clientEnv(): Record<string, string> {
    return { DOCKER_CONFIG: this.dockerConfigDir, REGISTRY_AUTH_FILE: path.join(this.dockerConfigDir, "config.json") };
  }

  /**
   * Writes the credentials, unless they were written less than an hour ago. Called before the
   * images are pulled and before each executor starts. Throws RegistryLoginError naming the registry.
   */
  async refresh(signal?: AbortSignal): Promise<void> {
    if (this.signedInAt !== undefined && this.now() - this.signedInAt < this.refreshAfterMs) return;
    const auths: Record<string, { auth: string }> = {};
    for (const entry of this.entries) {
      const [username, password] =
        "identityResourceId" in entry
          ? [ACR_TOKEN_USERNAME, await acrRefreshToken(this.endpoints, entry.server, await imdsAccessToken(this.endpoints, entry.identityResourceId, signal), signal)]
          : [entry.username, entry.password];
      auths[configKey(entry.server)] = { auth: Buffer.from(`${username}:${password}`).toString("base64") };
    }
    const file = path.join(this.dockerConfigDir, "config.json");
    const temporary = `${file}.tmp`;
    await fs.writeFile(temporary, `${JSON.stringify({ auths })}\n`, { mode: 0o600 });
    await fs.rename(temporary, file);
    this.signedInAt = this.now();
  }

  /** Removes the directory and the credentials in it. */
  async dispose(): Promise<void> {
    await fs.rm(this.dockerConfigDir, { recursive: true, force: true });
  }
}

/** The key the Docker client looks credentials up by: Docker Hub has its historical URL, others their host. */
function configKey(server: string): string {
  return server === "docker.io" ? "https://index.docker.io/v1/" : server;
}
