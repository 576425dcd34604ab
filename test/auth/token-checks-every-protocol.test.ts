import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as reflection from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { SignJWT } from "jose";
import { OidcTestIssuer } from "../support/oidc-issuer.js";
import { captureLogs } from "./capture-logs.js";
import type { Credential, Outcome } from "./protocol-callers.js";
import { startServerRequiringTokens, type ServerRequiringTokens } from "./server-requiring-tokens.js";

const TENANT_A = randomUUID();
const TENANT_B = randomUUID();
const TENANT_NOT_ALLOWED = randomUUID();

/** What a refused client sees: the code, and (REST) the status; nothing about which check failed. */
function assertRefused(outcome: Outcome<unknown>, code: Code, challenge: string | null, label: string): void {
  assert.equal(outcome.ok, false, `${label}: expected a refusal`);
  if (outcome.ok) return;
  assert.equal(outcome.code, code, `${label}: code`);
  assert.equal(outcome.challenge, challenge, `${label}: WWW-Authenticate`);
  if (outcome.httpStatus !== undefined) {
    assert.equal(outcome.httpStatus, code === Code.Unauthenticated ? 401 : 403, `${label}: HTTP status`);
  }
}

/** jose accepts a token without `exp` unless told to require one; we require it. */
function noExpToken(): Promise<string> {
  const key = issuer.currentKey;
  return new SignJWT({ iss: issuer.tenantIssuer(TENANT_A), aud: "api://tes", tid: TENANT_A, oid: randomUUID() })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

let issuer: OidcTestIssuer;

describe("bearer tokens are checked on every protocol (Entra-style multi-tenant issuer)", () => {
  let s: ServerRequiringTokens;
  const logLines: Array<Record<string, unknown>> = [];
  before(async () => {
    issuer = await OidcTestIssuer.start();
    s = await startServerRequiringTokens(
      { OIDC_ISSUER: issuer.issuerTemplate, OIDC_ALLOWED_TENANTS: `${TENANT_A},${TENANT_B}`, OIDC_CLOCK_SKEW_SECONDS: "30" },
      { logger: captureLogs(logLines) },
    );
  });
  after(async () => {
    await s.close();
    await issuer.close();
  });

  const INVALID = 'Bearer realm="tes", error="invalid_token"';

  it("refuses no token, a malformed one, a bad signature, an expired one, the wrong audience or issuer: unauthenticated", async () => {
    const now = Math.floor(Date.now() / 1000);
    // Each case also names the reason the server logs (and only logs), to prove it failed on that check.
    const cases: Array<[string, Credential, Code, string, string]> = [
      ["no token", undefined, Code.Unauthenticated, 'Bearer realm="tes"', "no-token"],
      ["another scheme", { authorization: "Basic dXNlcjpwYXNz" }, Code.Unauthenticated, 'Bearer realm="tes"', "no-token"],
      ["malformed", { authorization: "Bearer not-a-jwt" }, Code.Unauthenticated, INVALID, "malformed"],
      ["three parts, not JSON", "aaaa.bbbb.cccc", Code.Unauthenticated, INVALID, "malformed"],
      ["bad signature", await issuer.tenantToken(TENANT_A, { key: await issuer.foreignKey() }), Code.Unauthenticated, INVALID, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
      ["expired beyond the clock skew", await issuer.tenantToken(TENANT_A, { claims: { exp: now - 120 } }), Code.Unauthenticated, INVALID, "ERR_JWT_EXPIRED"],
      ["not yet valid", await issuer.tenantToken(TENANT_A, { claims: { nbf: now + 600 } }), Code.Unauthenticated, INVALID, "claim-nbf-check_failed"],
      ["no exp at all", await noExpToken(), Code.Unauthenticated, INVALID, "claim-exp-missing"],
      ["wrong audience", await issuer.tenantToken(TENANT_A, { claims: { aud: "api://other" } }), Code.Unauthenticated, INVALID, "claim-aud-check_failed"],
      ["wrong issuer", await issuer.tenantToken(TENANT_A, { claims: { iss: `https://login.microsoftonline.com/${TENANT_A}/v2.0` } }), Code.Unauthenticated, INVALID, "claim-iss-check_failed"],
      ["issuer of another tenant than tid", await issuer.tenantToken(TENANT_A, { claims: { iss: issuer.tenantIssuer(TENANT_B) } }), Code.Unauthenticated, INVALID, "claim-iss-check_failed"],
      ["tid not a GUID", await issuer.tenantToken(TENANT_A, { claims: { tid: "contoso", iss: issuer.tenantIssuer("contoso") } }), Code.Unauthenticated, INVALID, "tid-not-a-guid"],
      ["unknown key id", await issuer.tenantToken(TENANT_A, { kid: "no-such-key" }), Code.Unauthenticated, INVALID, "no-matching-key"],
      ["tenant not allowed", await issuer.tenantToken(TENANT_NOT_ALLOWED), Code.PermissionDenied, 'Bearer realm="tes", error="insufficient_scope"', "tenant-not-allowed"],
    ];
    for (const caller of s.callers) {
      for (const [label, credential, code, challenge, reason] of cases) {
        assertRefused(await caller.listTasks({}, credential), code, challenge, `${caller.name}, ${label}`);
        assert.equal(logLines.at(-1)?.reason, reason, `${caller.name}, ${label}: logged reason`);
        assertRefused(await caller.createTask(credential), code, challenge, `${caller.name}, ${label}, CreateTask`);
      }
    }
    const logged = JSON.stringify(logLines);
    for (const [label, credential] of cases) {
      if (typeof credential === "string") assert.ok(!logged.includes(credential.split(".")[2] ?? credential), `${label}: the token is never logged`);
    }
    assert.equal(await s.store.list({ pageSize: 10, view: 0 }, { all: true }).then((p) => p.tasks.length), 0, "no refused call created a task");
  });

  it("gives the same fixed message whatever check failed, so a client learns nothing about the configuration", async () => {
    const tokens = [
      await issuer.tenantToken(TENANT_A, { claims: { aud: "api://other" } }),
      await issuer.tenantToken(TENANT_A, { key: await issuer.foreignKey() }),
      await issuer.tenantToken(TENANT_A, { expiresIn: -3600 }),
    ];
    for (const caller of s.callers) {
      const messages = new Set<string>();
      for (const token of tokens) {
        const outcome = await caller.getTask("0190d8f6-8d29-7f00-8000-000000000000", token);
        if (!outcome.ok) messages.add(outcome.message);
      }
      assert.deepEqual([...messages], ["the bearer token is not valid"], caller.name);
    }
  });

  it("accepts a valid token from an allowed tenant on every protocol", async () => {
    for (const caller of s.callers) {
      const token = await issuer.tenantToken(TENANT_A);
      const created = await caller.createTask(token);
      assert.ok(created.ok, `${caller.name}: ${JSON.stringify(created)}`);
      const read = await caller.getTask(created.value, token);
      assert.deepEqual(read, { ok: true, value: created.value }, caller.name);
      const record = await s.store.get(created.value, { all: true });
      assert.equal(record?.owner, TENANT_A, `${caller.name}: the task is recorded under the tenant`);
    }
  });

  it("leaves GetServiceInfo public, but still refuses a bad token sent to it", async () => {
    for (const caller of s.callers) {
      const open = await caller.getServiceInfo(undefined);
      assert.equal(open.ok, true, caller.name);
      const bad = await caller.getServiceInfo(await issuer.tenantToken(TENANT_A, { claims: { aud: "api://other" } }));
      assertRefused(bad, Code.Unauthenticated, INVALID, `${caller.name}, service-info with a bad token`);
    }
  });

  it("guards the gRPC reflection stream too: no token is refused, a valid one lists the services", async () => {
    const client = createClient(reflection.ServerReflection, createGrpcTransport({ baseUrl: s.baseUrl }));
    const ask = async (headers: Record<string, string>) => {
      const answers: string[] = [];
      async function* input() {
        yield create(reflection.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
      }
      for await (const answer of client.serverReflectionInfo(input(), { headers })) answers.push(answer.messageResponse.case ?? "");
      return answers;
    };
    await assert.rejects(ask({}), (error: unknown) => ConnectError.from(error).code === Code.Unauthenticated);
    assert.deepEqual(await ask({ authorization: `Bearer ${await issuer.tenantToken(TENANT_A)}` }), ["listServicesResponse"]);
  });

  it("answers a raw Connect call with HTTP 401 or 403 and the challenge as a response header", async () => {
    const call = (headers: Record<string, string>) =>
      fetch(`${s.baseUrl}/ga4gh.tes.v1.TaskService/ListTasks`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
    const none = await call({});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="tes"');
    assert.deepEqual(await none.json(), { code: "unauthenticated", message: "authentication required: send an OAuth 2.0 bearer token" });
    const denied = await call({ authorization: `Bearer ${await issuer.tenantToken(TENANT_NOT_ALLOWED)}` });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get("www-authenticate"), 'Bearer realm="tes", error="insufficient_scope"');
  });

  it("does not accept the token through a query parameter or another header", async () => {
    const token = await issuer.tenantToken(TENANT_A);
    const viaQuery = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks?access_token=${token}`);
    assert.equal(viaQuery.status, 401);
    const viaOtherHeader = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, { headers: { "x-authorization": `Bearer ${token}` } });
    assert.equal(viaOtherHeader.status, 401);
  });
});

describe("a required user role, and no public procedures", () => {
  it("refuses a valid token without TES_USER_ROLE with permission_denied, and asks for a token on GetServiceInfo", async () => {
    const single = await OidcTestIssuer.start();
    const server = await startServerRequiringTokens({
      OIDC_ISSUER: single.issuer,
      TES_ISOLATION: "per-user",
      TES_USER_ROLE: "TES.User",
      TES_ADMIN_ROLE: "TES.Admin",
      TES_AUTH_PUBLIC_METHODS: "none",
    });
    try {
      for (const caller of server.callers) {
        assertRefused(await caller.getServiceInfo(undefined), Code.Unauthenticated, 'Bearer realm="tes"', `${caller.name}: service-info`);
        const noRole = await single.token({ claims: { roles: ["TES.Reader"] } });
        assertRefused(await caller.listTasks({}, noRole), Code.PermissionDenied, 'Bearer realm="tes", error="insufficient_scope"', `${caller.name}: no role`);
        assert.equal((await caller.listTasks({}, await single.token({ claims: { roles: ["TES.User"] } }))).ok, true, `${caller.name}: user role`);
        assert.equal((await caller.listTasks({}, await single.token({ claims: { roles: ["TES.Admin"] } }))).ok, true, `${caller.name}: admin role`);
      }
    } finally {
      await server.close();
      await single.close();
    }
  });
});
