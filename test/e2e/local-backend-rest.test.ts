import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import { startApp, type RunningApp } from "../../src/app.js";
import { redisAddressFromUrl } from "../../src/redis/redis-address.js";
import { leftoverProcesses } from "../support/leftover-processes.js";
import { localServerEnv } from "../support/local-server-env.js";
import { removeQueues, TEST_REDIS_URL } from "../worker-support/harness.js";
import { lastLog, type TaskJson } from "./support/task-json.js";

/**
 * The whole server as `npm start` runs it (API and a worker in one process, SQLite, Redis, the
 * local backend with the bwrap sandbox), driven through its REST API as a TES client would.
 */
describe("tasks end to end through the REST API, on the local backend", () => {
  let dir: string;
  let files: string;
  let app: RunningApp;
  let baseUrl: string;
  let inputServer: http.Server;
  let inputUrl: string;
  const prefix = `tes-e2e-local-${randomUUID()}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-e2e-local-"));
    files = join(dir, "files");
    await mkdir(join(files, "reference", "sub"), { recursive: true });
    await writeFile(join(files, "local.txt"), "from a local file\n");
    await writeFile(join(files, "reference", "a.txt"), "A");
    await writeFile(join(files, "reference", "sub", "b.txt"), "BB");
    inputServer = http.createServer((req, res) => {
      if (req.url === "/input.txt") res.writeHead(200).end("from http\n");
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => inputServer.listen(0, "127.0.0.1", resolve));
    inputUrl = `http://127.0.0.1:${(inputServer.address() as AddressInfo).port}/input.txt`;
    app = await startApp({ ...localServerEnv(dir, prefix), TES_ALLOWED_DIRS: files }, { api: true, worker: true }, pino({ level: "silent" }));
    baseUrl = `http://127.0.0.1:${app.address!.port}/ga4gh/tes/v1`;
  });

  after(async () => {
    await app?.close();
    await new Promise((resolve) => inputServer.close(resolve));
    await removeQueues(redisAddressFromUrl(new URL(TEST_REDIS_URL)).options, prefix);
    await rm(dir, { recursive: true, force: true });
  });

  async function createTask(task: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${baseUrl}/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(task),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function waitFor(id: string, states: string[], timeoutMs = 30_000): Promise<TaskJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = (await (await fetch(`${baseUrl}/tasks/${id}?view=FULL`)).json()) as TaskJson;
      if (states.includes(task.state)) return task;
      assert.ok(Date.now() < deadline, `task ${id} is ${task.state}, not ${states.join(" or ")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const sh = (script: string, extra: Record<string, unknown> = {}) => ({ image: "alpine:3", command: ["sh", "-c", script], ...extra });

  test("inputs of every kind, two executors sharing a volume, env, workdir, stdout, directory and wildcard outputs", async () => {
    const out = join(files, "results");
    const { status, json } = await createTask({
      name: "everything",
      inputs: [
        { path: "/data/content.txt", content: "from content\n" },
        { path: "/data/http.txt", url: inputUrl },
        { path: "/data/local.txt", url: pathToFileURL(join(files, "local.txt")).href },
        { path: "/data/reference", url: pathToFileURL(join(files, "reference")).href, type: "DIRECTORY" },
      ],
      volumes: ["/shared"],
      executors: [
        sh("cat /data/content.txt /data/http.txt /data/local.txt > /shared/all.txt && ls /data/reference/sub > /shared/ls.txt"),
        sh('echo "$GREETING in $(pwd)"; mkdir -p /out/tree/deep /out/reports; cp /shared/all.txt /out/tree/; ' +
          "printf 12 > /out/tree/deep/n; printf abc > /out/reports/r1.csv; printf abcd > /out/reports/r2.csv; printf x > /out/reports/skip.txt",
          { env: { GREETING: "hello" }, workdir: "/shared", stdout: "/out/stdout.txt" }),
      ],
      outputs: [
        { path: "/out/tree", url: pathToFileURL(join(out, "tree")).href, type: "DIRECTORY" },
        { path: "/out/reports/*.csv", path_prefix: "/out/reports/", url: pathToFileURL(join(out, "reports")).href },
        { path: "/out/stdout.txt", url: pathToFileURL(join(out, "stdout.txt")).href },
      ],
    });
    assert.equal(status, 200, JSON.stringify(json));
    const task = await waitFor(json.id as string, ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR"]);
    assert.equal(task.state, "COMPLETE", JSON.stringify(task.logs));
    const log = lastLog(task);
    assert.deepEqual(log.logs.map((executor) => executor.exit_code), [0, 0]);
    assert.equal(log.logs[1]?.stdout, "hello in /shared\n");
    assert.ok(log.start_time && log.end_time && log.logs[0]?.start_time && log.logs[0]?.end_time);
    assert.equal(await readFile(join(out, "stdout.txt"), "utf8"), "hello in /shared\n");
    assert.equal(await readFile(join(out, "tree", "all.txt"), "utf8"), "from content\nfrom http\nfrom a local file\n");
    assert.deepEqual((await readdir(join(out, "reports"))).sort(), ["r1.csv", "r2.csv"]);
    const outputs = log.outputs.map((o) => [o.path, o.url, o.size_bytes]).sort();
    assert.deepEqual(outputs, [
      ["/out/reports/r1.csv", pathToFileURL(join(out, "reports", "r1.csv")).href, "3"],
      ["/out/reports/r2.csv", pathToFileURL(join(out, "reports", "r2.csv")).href, "4"],
      ["/out/stdout.txt", pathToFileURL(join(out, "stdout.txt")).href, "17"],
      ["/out/tree/all.txt", pathToFileURL(join(out, "tree", "all.txt")).href, "41"],
      ["/out/tree/deep/n", pathToFileURL(join(out, "tree", "deep", "n")).href, "2"],
    ]);
  });

  test("a failing executor: EXECUTOR_ERROR with its exit code; ignore_error goes on", async () => {
    const failing = await createTask({ executors: [sh("exit 3"), sh("echo never")] });
    const failed = await waitFor(failing.json.id as string, ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR"]);
    assert.equal(failed.state, "EXECUTOR_ERROR");
    assert.deepEqual(lastLog(failed).logs.map((e) => e.exit_code), [3]);
    const ignoring = await createTask({ executors: [sh("exit 4", { ignore_error: true }), sh("echo after")] });
    const done = await waitFor(ignoring.json.id as string, ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR"]);
    assert.equal(done.state, "COMPLETE");
    assert.deepEqual(lastLog(done).logs.map((e) => e.exit_code), [4, 0]);
  });

  test("a failed download: SYSTEM_ERROR with a readable reason", async () => {
    const { json } = await createTask({
      inputs: [{ path: "/data/missing.txt", url: inputUrl.replace("input.txt", "missing.txt") }],
      executors: [sh("cat /data/missing.txt")],
    });
    const task = await waitFor(json.id as string, ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR"]);
    assert.equal(task.state, "SYSTEM_ERROR");
    assert.match(lastLog(task).system_logs.join("\n"), /\/data\/missing\.txt.*(404|not found)/i);
  });

  test("a file:// URL outside TES_ALLOWED_DIRS is refused at create with a 400 naming the field", async () => {
    const { status, json } = await createTask({
      inputs: [{ path: "/data/passwd", url: "file:///etc/passwd" }],
      executors: [sh("cat /data/passwd")],
    });
    assert.equal(status, 400);
    assert.match(JSON.stringify(json), /inputs\[0\]\.url/);
  });

  test("cancel during a long executor: CANCELED, and no process is left", async () => {
    const marker = `${9100 + Math.floor(Math.random() * 800)}.${process.pid}`;
    const { json } = await createTask({ executors: [sh(`(sleep ${marker} &); sleep ${marker}`)] });
    const id = json.id as string;
    await waitFor(id, ["RUNNING"]);
    for (let waited = 0; (await leftoverProcesses(marker)).length < 2; waited += 50) {
      assert.ok(waited < 10_000, "the executor did not start");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const canceled = await fetch(`${baseUrl}/tasks/${id}:cancel`, { method: "POST" });
    assert.equal(canceled.status, 200);
    const task = await waitFor(id, ["CANCELED"], 10_000);
    assert.equal(task.state, "CANCELED");
    for (let waited = 0; (await leftoverProcesses(marker)).length > 0; waited += 50) {
      assert.ok(waited < 2000, `left behind: ${(await leftoverProcesses(marker)).join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});

