import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadAuthConfig, type OidcConfig } from "../config/auth.js";
import { ALL, ownedBy } from "../store/task-store.js";
import { AuthRejection } from "./auth-errors.js";
import { callerFromClaims } from "./caller-from-claims.js";

const TID = "11111111-2222-3333-4444-555555555555";
const OID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

function config(env: Record<string, string> = {}): OidcConfig {
  const loaded = loadAuthConfig({ TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "api://tes", ...env });
  if (loaded.mode !== "oidc") throw new Error("not oidc");
  return loaded.oidc;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof AuthRejection) return `${error.failure}:${error.reason}`;
    throw error;
  }
  return "accepted";
}

describe("callerFromClaims", () => {
  it("per-tenant: the tenant owns the task", () => {
    assert.deepEqual(callerFromClaims({ payload: { tid: TID, oid: OID }, tenant: TID }, config()), { owner: TID, scope: ownedBy(TID) });
    assert.equal(refusal(() => callerFromClaims({ payload: { sub: "x" }, tenant: undefined }, config())), "invalid:claim-tid-missing");
  });

  it("per-user: <tenant>/<oid>, else <tenant>/<sub>, else <issuer>/<sub>", () => {
    const perUser = config({ TES_ISOLATION: "per-user" });
    assert.equal(callerFromClaims({ payload: { tid: TID, oid: OID, sub: "pairwise" }, tenant: TID }, perUser).owner, `${TID}/${OID}`);
    assert.equal(callerFromClaims({ payload: { tid: TID, sub: "pairwise" }, tenant: TID }, perUser).owner, `${TID}/pairwise`);
    assert.equal(callerFromClaims({ payload: { iss: "https://idp.example.org", sub: "alice" }, tenant: undefined }, perUser).owner, "https://idp.example.org/alice");
    assert.equal(refusal(() => callerFromClaims({ payload: { tid: TID }, tenant: TID }, perUser)), "invalid:claim-sub-missing");
  });

  it("the admin role sees everything; another role does not", () => {
    const withAdmin = config({ TES_ADMIN_ROLE: "TES.Admin" });
    assert.equal(callerFromClaims({ payload: { roles: ["TES.Admin"] }, tenant: TID }, withAdmin).scope, ALL);
    assert.deepEqual(callerFromClaims({ payload: { roles: ["TES.Reader"] }, tenant: TID }, withAdmin).scope, ownedBy(TID));
    assert.deepEqual(callerFromClaims({ payload: { roles: "TES.Admin" }, tenant: TID }, config()).scope, ownedBy(TID), "no admin role configured");
  });

  it("refuses a tenant off the allow-list, a missing user role, a delegated token without a required scope: forbidden", () => {
    const strict = config({ OIDC_ALLOWED_TENANTS: TID, TES_USER_ROLE: "TES.User", TES_ADMIN_ROLE: "TES.Admin", OIDC_REQUIRED_SCOPES: "Tasks.ReadWrite" });
    const other = "99999999-2222-3333-4444-555555555555";
    assert.equal(refusal(() => callerFromClaims({ payload: { roles: ["TES.User"] }, tenant: other }, strict)), "forbidden:tenant-not-allowed");
    assert.equal(refusal(() => callerFromClaims({ payload: { roles: ["Other"] }, tenant: TID }, strict)), "forbidden:user-role-missing");
    assert.equal(refusal(() => callerFromClaims({ payload: { roles: ["TES.User"], scp: "User.Read" }, tenant: TID }, strict)), "forbidden:scope-missing");
    assert.equal(refusal(() => callerFromClaims({ payload: { roles: ["TES.User"], scp: "User.Read Tasks.ReadWrite" }, tenant: TID }, strict)), "accepted");
    assert.equal(refusal(() => callerFromClaims({ payload: { roles: ["TES.User"] }, tenant: TID }, strict)), "accepted", "app-only: no scp, the role governs");
    assert.equal(refusal(() => callerFromClaims({ payload: { roles: ["TES.Admin"] }, tenant: TID }, strict)), "accepted", "admins need no user role");
  });
});
