import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { OidcTestIssuer } from "../support/oidc-issuer.js";
import { startTestServer } from "../support/tes-test-server.js";
import { oidcSignIn, startServerRequiringTokens, type ServerRequiringTokens } from "./server-requiring-tokens.js";

const COOLDOWN_SECONDS = 1;

describe("signing keys: read once, re-read on rotation at most once per cooldown, never per call (single OIDC issuer)", () => {
  let issuer: OidcTestIssuer;
  let s: ServerRequiringTokens;
  before(async () => {
    issuer = await OidcTestIssuer.start();
    s = await startServerRequiringTokens({
      OIDC_ISSUER: issuer.issuer,
      TES_ISOLATION: "per-user",
      OIDC_KEYS_REFRESH_COOLDOWN_SECONDS: String(COOLDOWN_SECONDS),
    });
  });
  after(async () => {
    await s.close();
    await issuer.close();
  });

  it("accepts tokens from a rotated key without a restart, fetching the keys once per rotation", async () => {
    assert.equal(issuer.keyFetches, 1, "keys read once at start-up");
    const token = await issuer.token();
    for (let i = 0; i < 10; i++) {
      for (const caller of s.callers) assert.equal((await caller.listTasks({}, token)).ok, true, caller.name);
    }
    assert.equal(issuer.keyFetches, 1, "40 calls, no key fetch");

    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    await issuer.rotate();
    const rotated = await issuer.token();
    for (const caller of s.callers) assert.equal((await caller.listTasks({}, rotated)).ok, true, `${caller.name}: token from the new key`);
    assert.equal(issuer.keyFetches, 2, "the unknown key id re-read the keys once");
    for (const caller of s.callers) assert.equal((await caller.listTasks({}, token)).ok, true, `${caller.name}: the old key is still published`);
    assert.equal(issuer.keyFetches, 2);
  });

  it("does not let forged key ids make it fetch: one re-read per cooldown however many arrive", async () => {
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    const before = issuer.keyFetches;
    for (let i = 0; i < 25; i++) {
      const forged = await issuer.token({ kid: randomUUID() });
      const outcome = await s.callers[i % s.callers.length]!.listTasks({}, forged);
      assert.equal(outcome.ok, false);
      if (!outcome.ok) assert.equal(outcome.code, Code.Unauthenticated);
    }
    assert.equal(issuer.keyFetches - before, 1, "25 unknown key ids inside one cooldown: a single fetch");
  });

  it("refuses tokens of a retired key once the keys are re-read, and keeps the known keys through an issuer outage", async () => {
    const old = issuer.currentKey;
    const oldToken = await issuer.token();
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    await issuer.rotate({ retireOld: true });
    const fresh = await issuer.token();
    assert.equal((await s.callers[0]!.listTasks({}, fresh)).ok, true, "the new key is learnt");
    const stale = await s.callers[0]!.listTasks({}, oldToken);
    assert.equal(stale.ok, false, `a token of the retired key ${old.kid} is refused`);

    issuer.failKeys = true;
    await sleep(COOLDOWN_SECONDS * 1000 + 100);
    const during = await issuer.token();
    const unknownDuringOutage = await s.callers[0]!.listTasks({}, await issuer.token({ kid: randomUUID() }));
    assert.equal(unknownDuringOutage.ok, false);
    for (const caller of s.callers) assert.equal((await caller.listTasks({}, during)).ok, true, `${caller.name}: known keys keep working while the issuer is down`);
    issuer.failKeys = false;
  });
});

describe("signing keys that cannot be had", () => {
  it("answers unavailable (HTTP 503, Retry-After) while the issuer's keys cannot be read, and recovers without a restart", async () => {
    const issuer = await OidcTestIssuer.start();
    issuer.failKeys = true;
    const auth = oidcSignIn({ OIDC_ISSUER: issuer.issuer, TES_ISOLATION: "per-user" });
    await assert.rejects(auth.load(), /answered HTTP 500/);
    const s = await startTestServer({ interceptors: [...auth.interceptors] });
    try {
      const token = await issuer.token();
      const response = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "30");
      assert.deepEqual(await response.json(), { code: "unavailable", message: "sign-in is unavailable for now; retry later" });

      issuer.failKeys = false;
      await sleep(2100); // failed reads are retried at most every 2 s while no keys are known
      const later = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(later.status, 200);
    } finally {
      await s.close();
      await issuer.close();
    }
  });
});

describe("verified tokens remembered between calls", () => {
  it("still refuses a remembered token once it expires", async () => {
    const issuer = await OidcTestIssuer.start();
    const s = await startServerRequiringTokens({
      OIDC_ISSUER: issuer.issuer,
      TES_ISOLATION: "per-user",
      OIDC_CLOCK_SKEW_SECONDS: "0",
      OIDC_TOKEN_CACHE_SECONDS: "600",
    });
    try {
      const token = await issuer.token({ expiresIn: 2 });
      const list = () => fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      assert.equal(await list(), 200);
      assert.equal(await list(), 200);
      await sleep(2100);
      assert.equal(await list(), 401);
    } finally {
      await s.close();
      await issuer.close();
    }
  });
});
