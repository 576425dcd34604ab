import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { startApp, type RunningApp } from "../../src/app.js";
import { localServerEnv } from "../support/local-server-env.js";

interface RequestLine {
  msg: string;
  rpc: string;
  code: string;
  taskId?: string;
}

/**
 * The request log line and the server span of each call name the task the call is about, and
 * nothing else as a task: service-info's id is the service's, and a search of the logs by task id
 * must not find it.
 */
describe("request log and server spans: the task id is the task's, on the calls about one task", () => {
  let dir: string;
  let app: RunningApp;
  let baseUrl: string;
  const lines: RequestLine[] = [];
  const spans = new InMemorySpanExporter();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-request-log-"));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString("utf8").split("\n")) if (text !== "") lines.push(JSON.parse(text) as RequestLine);
        done();
      },
    });
    app = await startApp(localServerEnv(dir, `tes-request-log-${randomUUID()}`), { api: true, worker: false }, pino({ level: "info" }, sink), {
      telemetry: { spanProcessors: [new SimpleSpanProcessor(spans)] },
    });
    baseUrl = `http://127.0.0.1:${app.address!.port}/ga4gh/tes/v1`;
  });

  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The request line of the last call to `method`, once it is written (after the answer). */
  const lastLine = async (method: string): Promise<RequestLine> => {
    const rpc = `ga4gh.tes.v1.TaskService/${method}`;
    for (let waited = 0; waited < 2000; waited += 10) {
      const line = lines.findLast((l) => l.msg === "request" && l.rpc === rpc);
      if (line !== undefined) return line;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no request line for ${rpc}`);
  };
  const lastSpan = (method: string) => spans.getFinishedSpans().findLast((s) => s.name === `ga4gh.tes.v1.TaskService/${method}`);

  test("service-info: no task id, though its answer has an id", async () => {
    const info = (await (await fetch(`${baseUrl}/service-info`)).json()) as { id: string };
    assert.ok(info.id.length > 0);
    const line = await lastLine("GetServiceInfo");
    assert.equal(line.code, "ok");
    assert.equal(line.taskId, undefined);
    assert.equal(lastSpan("GetServiceInfo")?.attributes["tes.task_id"], undefined);
  });

  test("CreateTask, GetTask, CancelTask: the task's id; GetTask of an unknown id: the id asked for", async () => {
    const created = await fetch(`${baseUrl}/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ executors: [{ image: "alpine:3", command: ["true"] }] }),
    });
    const { id } = (await created.json()) as { id: string };
    assert.equal((await lastLine("CreateTask")).taskId, id);
    assert.equal(lastSpan("CreateTask")?.attributes["tes.task_id"], id);

    assert.equal((await fetch(`${baseUrl}/tasks/${id}`)).status, 200);
    assert.equal((await lastLine("GetTask")).taskId, id);
    assert.equal(lastSpan("GetTask")?.attributes["tes.task_id"], id);

    assert.equal((await fetch(`${baseUrl}/tasks/${id}:cancel`, { method: "POST" })).status, 200);
    assert.equal((await lastLine("CancelTask")).taskId, id);

    const unknown = "01a00000-0000-7000-8000-000000000000";
    assert.equal((await fetch(`${baseUrl}/tasks/${unknown}`)).status, 404);
    const line = await lastLine("GetTask");
    assert.deepEqual([line.code, line.taskId], ["NotFound", unknown]);
  });

  test("ListTasks: no task id", async () => {
    assert.equal((await fetch(`${baseUrl}/tasks`)).status, 200);
    assert.equal((await lastLine("ListTasks")).taskId, undefined);
    assert.equal(lastSpan("ListTasks")?.attributes["tes.task_id"], undefined);
  });
});
