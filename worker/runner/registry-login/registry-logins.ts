/**
 * The registry logins document: which registries the runner signs its container client in to
 * before the executors pull their images, and how. Written by the Azure Batch backend
 * (worker/backends/azure-batch/task-documents.ts) only for the registries a task's executor images
 * need, and read by the runner (`--registry-logins FILE`):
 *
 *   { "version": 1, "registries": [
 *       { "server": "myacr.azurecr.io", "identityResourceId": "/subscriptions/…/userAssignedIdentities/acr-pull" },
 *       { "server": "registry.example.com", "username": "robot", "password": "…" } ] }
 *
 * An identity entry holds no secret: the node's managed identity is asked for a token at run time
 * (acr-token.ts). A password entry does; see the backend README, "Private registries".
 */
export type RegistryLoginEntry =
  | { server: string; identityResourceId: string }
  | { server: string; username: string; password: string };

const SERVER = /^(localhost|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+)(:\d{1,5})?$/;
const USER_ASSIGNED_IDENTITY = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i;

/** Parses the document; errors name the entry and field, never a password. */
export function parseRegistryLogins(text: string): RegistryLoginEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error("must be an object");
  const doc = json as Record<string, unknown>;
  if (doc.version !== 1) throw new Error(`version must be 1, got ${JSON.stringify(doc.version)}`);
  if (!Array.isArray(doc.registries)) throw new Error("registries must be a list");
  const seen = new Set<string>();
  return doc.registries.map((entry: unknown, i): RegistryLoginEntry => {
    const at = `registries[${i}]`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw new Error(`${at} must be an object`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!["server", "identityResourceId", "username", "password"].includes(key)) throw new Error(`${at}.${key} is not a known field`);
    }
    if (typeof e.server !== "string" || !(SERVER.test(e.server) || e.server === "docker.io")) throw new Error(`${at}.server must be a registry host`);
    if (seen.has(e.server)) throw new Error(`${at}.server ${e.server} is listed twice`);
    seen.add(e.server);
    if (e.identityResourceId !== undefined) {
      if (e.username !== undefined || e.password !== undefined) throw new Error(`${at} needs either identityResourceId, or username and password`);
      if (typeof e.identityResourceId !== "string" || !USER_ASSIGNED_IDENTITY.test(e.identityResourceId)) {
        throw new Error(`${at}.identityResourceId must be a user-assigned identity's resource id`);
      }
      return { server: e.server, identityResourceId: e.identityResourceId };
    }
    if (typeof e.username !== "string" || e.username === "") throw new Error(`${at}.username must be a non-empty string`);
    if (typeof e.password !== "string" || e.password === "") throw new Error(`${at}.password must be a non-empty string`);
    return { server: e.server, username: e.username, password: e.password };
  });
}
