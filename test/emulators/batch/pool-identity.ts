import { createHash } from "node:crypto";

/**
 * The client and principal ids the service reports for a user-assigned identity attached to a
 * pool. Entra assigns them; here they are GUID-shaped hashes of the resource id, stable across
 * calls, so that both wire forms (data plane CloudPool.identity, ARM Pool.identity) agree.
 */
export function identityIds(resourceId: string): { clientId: string; principalId: string } {
  const guid = (salt: string) => {
    const hex = createHash("sha256").update(`${salt}:${resourceId.toLowerCase()}`).digest("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  };
  return { clientId: guid("client"), principalId: guid("principal") };
}
