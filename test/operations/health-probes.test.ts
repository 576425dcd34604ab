import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { startApp, type RunningApp } from "../../src/app.js";
import { Readiness } from "../../src/health/readiness.js";
import { findOnPath, startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis-server.js";

/** A Connect-protocol unary call with JSON, as any HTTP client can make it. */
async function connectCall(baseUrl: string, procedure: string, body: object): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/${procedure}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe("health: /healthz, /readyz and grpc.health.v1.Health on the API port", () => {
  let dir: string;
  let redis: EmbeddedRedis;
  let app: RunningApp;
  let baseUrl: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-health-"));
    const executable = await findOnPath("redis-server", process.env.PATH);
    assert.ok(executable !== undefined, "this test needs redis-server on PATH (Debian redis-server)");
    redis = await startEmbeddedRedis({ executable, dataDir: join(dir, "redis"), startTimeoutMs: 10_000 });
    app = await startApp(
      {
        PORT: "0",
        HOST: "127.0.0.1",
        TES_DATA_DIR: join(dir, "data"),
        REDIS_URL: `redis://:probe-secret-pw@127.0.0.1:${redis.address.options.port}/0`,
        QUEUE_PREFIX: `tes-health-${randomUUID()}`,
        READINESS_TIMEOUT_MS: "500",
      },
      { api: true, worker: false },
      pino({ level: "silent" }),
    );
    baseUrl = `http://127.0.0.1:${app.address!.port}`;
  });

  after(async () => {
    await app?.close();
    await redis?.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  test("all up: alive, ready, SERVING for the server and the TES service, NOT_FOUND for an unknown one", async () => {
    const alive = await fetch(`${baseUrl}/healthz`);
    assert.equal(alive.status, 200);
    assert.equal(alive.headers.get("cache-control"), "no-store");
    assert.deepEqual(await alive.json(), { status: "alive" });
    const ready = await fetch(`${baseUrl}/readyz?verbose=1`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });
    const head = await fetch(`${baseUrl}/readyz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    const post = await fetch(`${baseUrl}/readyz`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");

    for (const service of ["", "ga4gh.tes.v1.TaskService"]) {
      assert.deepEqual(await connectCall(baseUrl, "grpc.health.v1.Health/Check", { service }), {
        status: 200,
        body: { status: "SERVING" },
      });
    }
    const unknown = await connectCall(baseUrl, "grpc.health.v1.Health/Check", { service: "no.such.Service" });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as { code: string }).code, "not_found");
    const list = await connectCall(baseUrl, "grpc.health.v1.Health/List", {});
    assert.deepEqual(Object.keys((list.body as { statuses: object }).statuses).sort(), ["", "ga4gh.tes.v1.TaskService", "grpc.health.v1.Health"]);
  });

  test("Redis down: /readyz is 503 naming redis (no password, no host), /healthz still 200, Check NOT_SERVING", async () => {
    await redis.close();
    const started = Date.now();
    const ready = await fetch(`${baseUrl}/readyz`);
    const elapsed = Date.now() - started;
    assert.equal(ready.status, 503);
    const text = await ready.text();
    const body = JSON.parse(text) as { status: string; failed: Array<{ dependency: string; reason: string }> };
    assert.equal(body.status, "not ready");
    assert.deepEqual(body.failed.map((f) => f.dependency), ["redis"]);
    assert.doesNotMatch(text, /probe-secret-pw|127\.0\.0\.1/);
    assert.ok(elapsed < 3000, `the probe answers within its timeout (took ${elapsed} ms)`);
    assert.equal((await fetch(`${baseUrl}/healthz`)).status, 200);
    assert.deepEqual(await connectCall(baseUrl, "grpc.health.v1.Health/Check", { service: "" }), {
      status: 200,
      body: { status: "NOT_SERVING" },
    });
  });
});

describe("Readiness", () => {
  test("a dependency that hangs fails after the timeout; an error shows only its code; draining is never ready", async () => {
    const failures: string[] = [];
    const readiness = new Readiness({
      timeoutMs: 100,
      checks: [
        { name: "store", check: () => new Promise(() => {}) },
        { name: "redis", check: async () => Promise.reject(Object.assign(new Error("connect to redis://:pw@host failed"), { code: "ECONNREFUSED" })) },
        { name: "other", check: async () => Promise.reject(new Error("postgres://user:pw@db/x")) },
      ],
      onFailure: (dependency) => failures.push(dependency),
    });
    const report = await readiness.check();
    assert.deepEqual(report, {
      ready: false,
      draining: false,
      failures: [
        { dependency: "store", reason: "no answer within 100 ms" },
        { dependency: "redis", reason: "ECONNREFUSED" },
        { dependency: "other", reason: "error" },
      ],
    });
    assert.deepEqual(failures.sort(), ["other", "redis", "store"]);
    let told = 0;
    readiness.onDraining(() => told++);
    readiness.startDraining();
    readiness.startDraining();
    assert.equal(told, 1);
    assert.deepEqual(await readiness.check(), { ready: false, draining: true, failures: [] });
  });

  test("probes that arrive together share one round of checks", async () => {
    let runs = 0;
    const readiness = new Readiness({
      timeoutMs: 1000,
      checks: [{ name: "store", check: async () => { runs++; await new Promise((r) => setTimeout(r, 50)); } }],
    });
    const reports = await Promise.all(Array.from({ length: 20 }, () => readiness.check()));
    assert.equal(runs, 1);
    assert.ok(reports.every((r) => r.ready));
  });
});
