import type { OidcConfig } from "../config/auth.js";
import { ALL, ownedBy } from "../store/task-store.js";
import { AuthRejection } from "./auth-errors.js";
import type { Caller } from "./caller.js";
import type { VerifiedClaims } from "./token-verifier.js";

/**
 * Who a verified token's holder is, for the store: the owner recorded on their tasks and the scope
 * of what they may read and cancel.
 * - per-tenant: owner = the tenant GUID; everyone in a tenant shares its tasks.
 * - per-user: owner = "<tenant>/<oid>" (Entra's immutable object id; `sub` when there is none). The
 *   tenant (or, for issuers without `tid`, the issuer) qualifies it, so ids from two tenants can
 *   never collide.
 * The admin role widens the scope to every task; the tasks an admin creates are still their own.
 * Throws AuthRejection("forbidden") for a tenant not on the allow-list, a missing user role, or a
 * delegated token without a required scope.
 */
export function callerFromClaims(claims: VerifiedClaims, config: OidcConfig): Caller {
  const { payload, tenant } = claims;
  if (config.allowedTenants !== "any" && (tenant === undefined || !config.allowedTenants.has(tenant))) {
    throw new AuthRejection("forbidden", "tenant-not-allowed");
  }
  const roles = rolesOf(payload.roles);
  const admin = config.adminRole !== undefined && roles.includes(config.adminRole);
  if (!admin && config.userRole !== undefined && !roles.includes(config.userRole)) {
    throw new AuthRejection("forbidden", "user-role-missing");
  }

  if (config.requiredScopes.length > 0) {
    const scopes = scopesOf(payload.scp ?? payload.scope);
    if (scopes !== undefined && !config.requiredScopes.some((scope) => scopes.includes(scope))) {
      throw new AuthRejection("forbidden", "scope-missing");
    }
  }

  let owner: string;
  if (config.isolation === "per-tenant") {
    if (tenant === undefined) throw new AuthRejection("invalid", "claim-tid-missing");
    owner = tenant;
  } else {
    const subject = nonEmptyString(payload.oid) ?? nonEmptyString(payload.sub);
    if (subject === undefined) throw new AuthRejection("invalid", "claim-sub-missing");
    owner = `${tenant ?? payload.iss}/${subject}`;
  }
  return { owner, scope: admin ? ALL : ownedBy(owner) };
}

function rolesOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((role): role is string => typeof role === "string");
  return typeof claim === "string" ? [claim] : [];
}

/** Delegated scopes (space-separated, RFC 8693 / Entra `scp`), or undefined for a token without any (app-only). */
function scopesOf(claim: unknown): string[] | undefined {
  if (typeof claim === "string") return claim.split(" ").filter((scope) => scope !== "");
  if (Array.isArray(claim)) return claim.filter((scope): scope is string => typeof scope === "string");
  return undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
