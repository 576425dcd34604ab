import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { fakeJwt, poolBody } from "./sdk-test-helpers.js";

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

test("with --arm the CLI also serves the ARM pool resource, and prints its URL, subscription, resource group and certificate file", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "--port", "0", "--account", "cliarm", "--arm"], { stdio: ["ignore", "pipe", "pipe"] });
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
  const [, armUrl = "", subscription = "", group = ""] = /arm:\s+(\S+) subscription (\S+) resource group (\S+)/.exec(banner) ?? [];
  const caFile = /arm ca:\s+(\S+)/.exec(banner)?.[1] ?? "";
  const token = fakeJwt({ aud: "https://management.azure.com/", exp: Math.floor(Date.now() / 1000) + 600 });
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const path = `/subscriptions/${subscription}/resourceGroups/${group}/providers/Microsoft.Batch/batchAccounts/cliarm/pools/none?api-version=2023-11-01`;
    const req = request(`${armUrl}${path}`, { headers: { Authorization: `Bearer ${token}` }, ca: readFileSync(caFile, "utf8") }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(answer.status, 404, answer.body);
  assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, "PoolNotFound");
  child.kill("SIGTERM");
  assert.equal(await new Promise<number | null>((resolve) => child.once("exit", resolve)), 0);
  assert.equal(existsSync(caFile), false, "the certificate file goes with the CLI");
});
