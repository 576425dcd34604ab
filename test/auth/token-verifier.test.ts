import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { AuthRejection } from "../../src/auth/auth-errors.js";
import { IssuerKeys } from "../../src/auth/issuer-keys.js";
import { TokenVerifier } from "../../src/auth/token-verifier.js";
import { loadAuthConfig } from "../../src/config/auth.js";
import { OidcTestIssuer } from "../support/oidc-issuer.js";

describe("TokenVerifier: Entra's per-key issuer", () => {
  let issuer: OidcTestIssuer;
  before(async () => {
    issuer = await OidcTestIssuer.start();
  });
  after(() => issuer.close());

  async function verifierFor(): Promise<TokenVerifier> {
    const config = loadAuthConfig({ TES_AUTH_MODE: "oidc", OIDC_ISSUER: issuer.issuerTemplate, OIDC_AUDIENCE: "api://tes", OIDC_ALLOWED_TENANTS: "*" });
    if (config.mode !== "oidc") throw new Error("not oidc");
    const keys = new IssuerKeys({ discoveryUrl: config.oidc.discoveryUrl, expectedIssuer: config.oidc.issuer, maxAgeMs: 3600_000, refreshCooldownMs: 300_000, fetchTimeoutMs: 2000 });
    await keys.load();
    return new TokenVerifier(config.oidc, keys);
  }

  it("accepts a key published for one exact tenant only for that tenant's tokens", async () => {
    const tenantA = randomUUID();
    const tenantB = randomUUID();
    issuer.keyIssuer = issuer.tenantIssuer(tenantB);
    try {
      const verifier = await verifierFor();
      assert.equal((await verifier.verify(await issuer.tenantToken(tenantB))).tenant, tenantB);
      await assert.rejects(verifier.verify(await issuer.tenantToken(tenantA)), (error: unknown) => error instanceof AuthRejection && error.reason === "key-issuer-mismatch");
    } finally {
      issuer.keyIssuer = undefined;
    }
  });

  it("accepts a template key for any tenant, with the tenant put in", async () => {
    const verifier = await verifierFor();
    const tenant = randomUUID();
    assert.equal((await verifier.verify(await issuer.tenantToken(tenant))).tenant, tenant);
  });
});
