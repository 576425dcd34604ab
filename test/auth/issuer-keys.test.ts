import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeProtectedHeader } from "jose";
import { IssuerKeys, KeysUnavailableError, NoMatchingKeyError } from "../../src/auth/issuer-keys.js";
import { OidcTestIssuer } from "../support/oidc-issuer.js";

describe("IssuerKeys: the issuer's keys in memory", () => {
  let issuer: OidcTestIssuer;
  let clock = 0;
  const refreshErrors: unknown[] = [];
  const keysFor = (overrides: Partial<ConstructorParameters<typeof IssuerKeys>[0]> = {}) =>
    new IssuerKeys({
      discoveryUrl: new URL(`${issuer.issuer}/.well-known/openid-configuration`),
      expectedIssuer: issuer.issuer,
      maxAgeMs: 60_000,
      refreshCooldownMs: 10_000,
      fetchTimeoutMs: 2000,
      now: () => clock,
      onRefreshError: (error) => refreshErrors.push(error),
      ...overrides,
    });
  before(async () => {
    issuer = await OidcTestIssuer.start();
  });
  after(() => issuer.close());

  it("re-reads stale keys in the background while the known ones keep answering, and keeps them when the re-read fails", async () => {
    clock = 1_000_000;
    const keys = keysFor();
    await keys.load();
    const fetches = issuer.keyFetches;
    const header = decodeProtectedHeader(await issuer.token());
    clock += 60_001;
    issuer.failKeys = true;
    const key = await keys.keyFor(header);
    assert.equal(key.jwk.kid, header.kid, "answered from the known keys at once");
    await sleep(50);
    assert.equal(issuer.keyFetches, fetches + 1, "one background re-read");
    assert.ok(refreshErrors.at(-1) instanceof KeysUnavailableError, "its failure was reported");
    assert.equal((await keys.keyFor(header)).jwk.kid, header.kid, "the last good keys stay in use");
    issuer.failKeys = false;
  });

  it("refuses a discovery document that names another issuer", async () => {
    const keys = keysFor({ expectedIssuer: "https://someone-else.example" });
    await assert.rejects(keys.load(), /names another issuer/);
  });

  it("never selects a symmetric or ambiguous key, and says so as NoMatchingKeyError", async () => {
    clock = 5_000_000;
    await issuer.rotate();
    const keys = keysFor();
    await keys.load();
    await assert.rejects(keys.keyFor({ alg: "HS256", kid: issuer.currentKey.kid }), NoMatchingKeyError);
    await assert.rejects(keys.keyFor({ alg: "ES256", kid: issuer.currentKey.kid }), NoMatchingKeyError, "an RSA key for an EC algorithm");
    assert.equal((await keys.keyFor({ alg: "RS256", kid: issuer.currentKey.kid })).jwk.kid, issuer.currentKey.kid);
    await assert.rejects(keys.keyFor({ alg: "RS256" }), NoMatchingKeyError, "no kid and two RSA keys: ambiguous");
  });
});
