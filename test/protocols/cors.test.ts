import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

const APP = "https://app.example.org";

describe("CORS for browsers", () => {
  let s: TestServer;
  let closed: TestServer;
  before(async () => {
    s = await startTestServer({ env: { CORS_ALLOWED_ORIGINS: `${APP}, http://localhost:3000`, CORS_MAX_AGE_SECONDS: "600" } });
    closed = await startTestServer();
  });
  after(async () => {
    await s.close();
    await closed.close();
  });

  it("answers a preflight from an allowed origin for REST and for Connect/gRPC-Web procedures", async () => {
    for (const [path, headers] of [
      ["/ga4gh/tes/v1/tasks", "content-type, authorization"],
      ["/ga4gh.tes.v1.TaskService/CreateTask", "content-type, connect-protocol-version, x-grpc-web, x-user-agent"],
    ] as const) {
      const res = await fetch(`${s.baseUrl}${path}`, {
        method: "OPTIONS",
        headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": headers },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), APP);
      assert.match(res.headers.get("access-control-allow-methods") ?? "", /POST/);
      const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
      for (const header of headers.split(", ")) assert.ok(allowed.includes(header), `${header} not in ${allowed}`);
      assert.equal(res.headers.get("access-control-max-age"), "600");
      assert.match(res.headers.get("vary") ?? "", /Origin/);
    }
  });

  it("lets an allowed origin read answers and the Connect/gRPC-Web status headers", async () => {
    const rest = await fetch(`${s.baseUrl}/ga4gh/tes/v1/service-info`, { headers: { origin: APP } });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers.get("access-control-allow-origin"), APP);
    const connect = await fetch(`${s.baseUrl}/ga4gh.tes.v1.TaskService/GetServiceInfo`, {
      method: "POST",
      headers: { origin: APP, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(connect.status, 200);
    assert.equal(connect.headers.get("access-control-allow-origin"), APP);
    const exposed = (connect.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const header of ["grpc-status", "grpc-message", "grpc-status-details-bin"]) assert.ok(exposed.includes(header), exposed);
  });

  it("gives an origin not on the list no CORS headers, and refuses its preflight", async () => {
    const preflight = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    const simple = await fetch(`${s.baseUrl}/ga4gh/tes/v1/service-info`, { headers: { origin: "https://evil.example" } });
    assert.equal(simple.headers.get("access-control-allow-origin"), null);
  });

  it("has CORS off by default", async () => {
    const res = await fetch(`${closed.baseUrl}/ga4gh/tes/v1/service-info`, { headers: { origin: APP } });
    assert.equal(res.headers.get("access-control-allow-origin"), null);
  });

  it("cannot be used by a text/plain cross-site form post to create a task", async () => {
    const res = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "text/plain" },
      body: JSON.stringify({ executors: [{ image: "a", command: ["b"] }] }),
    });
    assert.equal(res.status, 415);
    const list = (await (await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`)).json()) as { tasks: unknown[] };
    assert.deepEqual(list.tasks, []);
  });
});
