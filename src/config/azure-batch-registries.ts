import { ConfigError, type Env } from "./env-reader.js";

/**
 * A private container registry the Azure Batch pools log in to (shared/DESIGN.md "Azure Batch
 * mapping": private registries, ACR through a managed identity). Exactly one way to sign in:
 * - a user name and a password, the password read from the environment variable `passwordSetting`
 *   names, so that it may be a Key Vault reference resolved at start-up (docs/SIGN-IN-AND-SECRETS.md)
 *   and never sits inline in the JSON list;
 * - or `identityResourceId`, a user-assigned managed identity with AcrPull on the registry. The pool
 *   must have that identity attached, which only ARM can do (the Batch data plane's Pool Add has no
 *   `identity`; shared/notes/AZURE-BATCH.md §5 "Identity for ACR").
 */
export interface ContainerRegistryConfig {
  /** Host[:port] as it starts an image reference, e.g. myregistry.azurecr.io. */
  server: string;
  username?: string;
  /** Never logged, never in an error, never in a pool id, task document or task log. */
  password?: string;
  identityResourceId?: string;
}

const SERVER = /^(localhost|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+)(:\d{1,5})?$/;
export const USER_ASSIGNED_IDENTITY = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_SETTING = /PASSWORD|SECRET|TOKEN/i;

/** AZURE_BATCH_CONTAINER_REGISTRIES: a JSON list; errors name the entry and field, never a value read from a password setting. */
export function parseContainerRegistries(name: string, raw: string | undefined, env: Env): ContainerRegistryConfig[] {
  if (raw === undefined || raw.trim() === "") return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${name} is not valid JSON`);
  }
  if (!Array.isArray(list)) throw new ConfigError(`${name} must be a JSON list`);
  const seen = new Set<string>();
  return list.map((entry: unknown, i) => {
    const at = `${name}[${i}]`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw new ConfigError(`${at} must be an object`);
    const e = entry as Record<string, unknown>;
    const known = new Set(["server", "username", "passwordSetting", "identityResourceId"]);
    for (const key of Object.keys(e)) {
      if (key === "password") throw new ConfigError(`${at}.password is not accepted: name an environment variable holding it in passwordSetting (it may be a Key Vault reference)`);
      if (!known.has(key)) throw new ConfigError(`${at}.${key} is not a known field (server, username, passwordSetting, identityResourceId)`);
    }
    if (typeof e.server !== "string" || !SERVER.test(e.server.toLowerCase())) throw new ConfigError(`${at}.server must be a registry host such as myregistry.azurecr.io`);
    const server = e.server.toLowerCase();
    if (seen.has(server)) throw new ConfigError(`${at}.server ${server} is listed twice`);
    seen.add(server);
    const byPassword = e.username !== undefined || e.passwordSetting !== undefined;
    const byIdentity = e.identityResourceId !== undefined;
    if (byPassword === byIdentity) throw new ConfigError(`${at} needs either username and passwordSetting, or identityResourceId`);
    if (byIdentity) {
      if (typeof e.identityResourceId !== "string" || !USER_ASSIGNED_IDENTITY.test(e.identityResourceId)) {
        throw new ConfigError(`${at}.identityResourceId must be a user-assigned identity's resource id (/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…)`);
      }
      return { server, identityResourceId: e.identityResourceId };
    }
    if (typeof e.username !== "string" || e.username === "") throw new ConfigError(`${at}.username must be a non-empty string`);
    if (typeof e.passwordSetting !== "string" || !SETTING_NAME.test(e.passwordSetting)) throw new ConfigError(`${at}.passwordSetting must name an environment variable`);
    // The logger scrubs the values of settings with such names from every line (src/logging/secret-scrubber.ts).
    if (!SECRET_SETTING.test(e.passwordSetting)) throw new ConfigError(`${at}.passwordSetting must name a variable whose name contains PASSWORD, SECRET or TOKEN, so that logs scrub its value`);
    const password = env[e.passwordSetting];
    if (password === undefined || password === "") throw new ConfigError(`${at}.passwordSetting names ${e.passwordSetting}, which is not set`);
    return { server, username: e.username, password };
  });
}

/**
 * The registry an image reference pulls from, lower-cased: its first path component when that
 * looks like a host (has a dot or a port, or is localhost), else Docker Hub ("docker.io").
 */
export function registryOfImage(image: string): string {
  const slash = image.indexOf("/");
  if (slash < 0) return "docker.io";
  const first = image.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first.toLowerCase() : "docker.io";
}

/** The configured registries some of these images pull from, in configuration order. */
export function registriesForImages(registries: readonly ContainerRegistryConfig[], images: readonly string[]): ContainerRegistryConfig[] {
  const wanted = new Set(images.map(registryOfImage));
  return registries.filter((registry) => wanted.has(registry.server));
}
