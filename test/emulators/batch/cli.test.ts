import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { poolBody } from "./sdk-test-helpers.js";

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), "cli.ts");

test("the CLI serves an account the SDK can use, and its control endpoints count and inject faults", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "--port", "0", "--account", "cliacct", "--pools", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  let out = "";
  const banner = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (/control: /.test(out)) resolve(out);
    });
    child.once("exit", (code) => reject(new Error(`the CLI exited with ${code}: ${out}`)));
  });
  const url = /listening at (\S+)/.exec(banner)?.[1] ?? "";
  const key = /key:\s+(\S+)/.exec(banner)?.[1] ?? "";
  assert.match(banner, /account: cliacct/);
  const batch = new BatchServiceClient(new BatchSharedKeyCredentials("cliacct", key), url, { noRetryPolicy: true });
  assert.equal((await batch.pool.add(poolBody("cli-pool")))._response.status, 201);
  // --pools 1: the quota is reached.
  await assert.rejects(batch.pool.add(poolBody("cli-pool-2")), (err: { code?: string }) => err.code === "PoolQuotaReached");
  const fault = await fetch(`${url}/_emulator/faults/http`, { method: "POST", body: JSON.stringify({ operation: "Pool_Get", status: 503 }) });
  assert.equal(fault.status, 204);
  await assert.rejects(batch.pool.get("cli-pool"), (err: { statusCode?: number }) => err.statusCode === 503);
  const counts = (await (await fetch(`${url}/_emulator/counts`)).json()) as Record<string, number>;
  assert.deepEqual(counts, { Pool_Add: 2, Pool_Get: 1 });
  child.kill("SIGTERM");
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  assert.equal(code, 0);
});
