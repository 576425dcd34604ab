import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createLogger } from "../../src/logging/logger.js";
import { TesProcess } from "./serve-process.js";

const secret = (label: string): string => `${label}${randomBytes(12).toString("hex")}`;

describe("no secret in any log line: a real `tes serve` at LOG_LEVEL=trace, secrets fed through every path", () => {
  const sasSignature = secret("SasSig");
  const dbPassword = secret("DbPw");
  const bearer = `eyJhbGciOiJSUzI1NiJ9.${secret("eyJzdWIiOiJ1c2VyIn0")}.${secret("Sg")}`;
  const schema = `ops_logs_${randomUUID().replaceAll("-", "")}`;
  let dir: string;
  let tes: TesProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-log-secrets-"));
  });

  after(async () => {
    await tes?.stop("SIGKILL");
    const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  });

  test("bearer token, SAS URL in an input, DATABASE_URL password: none appears in stdout or stderr", async () => {
    tes = await TesProcess.start("serve", {
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "trace",
      LOG_FORMAT: "json",
      TES_DATA_DIR: join(dir, "data"),
      // PostgreSQL here trusts loopback: any password is accepted, and must never be logged.
      DATABASE_URL: `postgres://postgres:${dbPassword}@127.0.0.1:5432/test`,
      TES_DATABASE_SCHEMA: schema,
      TES_BACKEND: "local",
      TES_CONTAINER_RUNTIME: "bwrap",
      REDIS_URL: "redis://127.0.0.1:6379/0",
      QUEUE_PREFIX: `tes-log-secrets-${randomUUID()}`,
      WORKER_POLL_INTERVAL_MS: "100",
    });
    const headers = { "content-type": "application/json", authorization: `Bearer ${bearer}` };
    const sasUrl = `https://account.blob.core.windows.net/inputs/in.txt?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=${sasSignature}`;
    const created = await fetch(`${tes.baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        inputs: [{ url: sasUrl, path: "/in/in.txt" }],
        executors: [{ image: "alpine:3", command: ["cat", "/in/in.txt"] }],
      }),
    });
    assert.equal(created.status, 200);
    const { id } = (await created.json()) as { id: string };
    // The same URL where it is refused: a bad path echoes back to the caller, never to the log.
    const refused = await fetch(`${tes.baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers,
      body: JSON.stringify({ inputs: [{ url: sasUrl, path: "relative" }], executors: [{ image: "alpine:3", command: ["true"] }] }),
    });
    assert.equal(refused.status, 400);
    // gRPC-Web and Connect calls carrying the token.
    const connect = await fetch(`${tes.baseUrl}/ga4gh.tes.v1.TaskService/GetTask`, {
      method: "POST",
      headers,
      body: JSON.stringify({ id, view: "FULL" }),
    });
    assert.equal(connect.status, 200);
    await fetch(`${tes.baseUrl}/ga4gh/tes/v1/tasks?view=FULL`, { headers });
    await fetch(`${tes.baseUrl}/ga4gh/tes/v1/tasks/${id}?view=FULL&access_token=${bearer}`, { headers });

    // The worker tries the input (there is no network here): it ends in an error, with its logs.
    const deadline = Date.now() + 60_000;
    let state = "";
    while (Date.now() < deadline) {
      state = ((await (await fetch(`${tes.baseUrl}/ga4gh/tes/v1/tasks/${id}`, { headers })).json()) as { state: string }).state;
      if (["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR"].includes(state)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(["EXECUTOR_ERROR", "SYSTEM_ERROR"].includes(state), `the input cannot be fetched here (state ${state})`);
    await fetch(`${tes.baseUrl}/ga4gh/tes/v1/tasks/${id}:cancel`, { method: "POST", headers, body: "{}" });
    assert.equal(await tes.stop("SIGTERM"), 0);

    const output = tes.output.text;
    assert.match(output, /"msg":"request"/, "request lines were logged");
    assert.match(output, /"msg":"task state changed"/, "state changes were logged");
    assert.match(output, new RegExp(`"taskId":"${id}"`));
    for (const [what, value] of [
      ["SAS signature", sasSignature],
      ["DATABASE_URL password", dbPassword],
      ["bearer token", bearer],
      ["bearer token's signature", bearer.split(".")[2]!],
    ] as const) {
      assert.ok(!output.includes(value), `the ${what} appears in the logs:\n${output.split("\n").filter((l) => l.includes(value)).join("\n")}`);
    }
  });
});

describe("the logger's scrubber", () => {
  const capture = (env: Record<string, string>, format: "json" | "pretty") => {
    const sink = new PassThrough();
    let text = "";
    sink.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    const logger = createLogger({ ...env, LOG_FORMAT: format }, { destination: sink, isTty: false });
    return { logger, text: () => text };
  };

  for (const format of ["json", "pretty"] as const) {
    test(`${format}: a Key Vault secret resolved into the environment, connection strings, SAS and bearer values in any field`, () => {
      const env: Record<string, string> = {
        // As src/secrets leaves it: the variable holds the value read from Key Vault.
        AZURE_CLIENT_SECRET: secret("kv-client-secret-"),
        AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${secret("AcctKey")};EndpointSuffix=core.windows.net`,
        REDIS_URL: `rediss://:${secret("RedisPw")}@cache.example.net:6380/0`,
      };
      const { logger, text } = capture(env, format);
      const sig = secret("Sig");
      logger.error({ err: new Error(`vault answered ${env.AZURE_CLIENT_SECRET}`) }, "boom");
      logger.info({ detail: { nested: [`url https://a.blob.core.windows.net/c/b?sp=r&sig=${sig}`] } }, "sas");
      logger.info({ note: env.AZURE_STORAGE_CONNECTION_STRING, redis: env.REDIS_URL }, "strings");
      logger.warn(`header was Authorization: Bearer ${sig}abcdef`);
      logger.info({ password: "hunter2hunter2", clientSecret: "cs-123456789" }, "fields");
      const out = text();
      for (const value of [env.AZURE_CLIENT_SECRET!, sig, "hunter2hunter2", "cs-123456789", env.AZURE_STORAGE_CONNECTION_STRING!.split("AccountKey=")[1]!.split(";")[0]!, new URL(env.REDIS_URL!).password]) {
        assert.ok(!out.includes(value), `${value} leaked in:\n${out}`);
      }
      assert.match(out, /\[redacted\]/);
      assert.match(out, /boom/);
    });
  }
});
