import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { startApp, type RunningApp } from "../../src/app.js";
import { localServerEnv } from "../support/local-server-env.js";
import { waitForTaskState } from "./task-state-wait.js";

/**
 * What an operator sees of one task's life in the traces (Application Insights: one end-to-end
 * transaction per trace id, with related items through links), with the real app, the local
 * backend and Redis, and an in-memory span exporter.
 */
describe("a task's trace, from the API call to its end through the poll cycle, and a cancel's", () => {
  let dir: string;
  let app: RunningApp;
  let baseUrl: string;
  const spans = new InMemorySpanExporter();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-task-trace-"));
    app = await startApp(
      localServerEnv(dir, `tes-task-trace-${randomUUID()}`),
      { api: true, worker: true },
      pino({ level: "silent" }),
      { telemetry: { spanProcessors: [new SimpleSpanProcessor(spans)] } },
    );
    baseUrl = `http://127.0.0.1:${app.address!.port}`;
  });

  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const newTrace = () => {
    const traceId = randomBytes(16).toString("hex");
    return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` };
  };

  const create = async (traceparent: string, command: string[]): Promise<string> => {
    const created = await fetch(`${baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent },
      body: JSON.stringify({ executors: [{ image: "alpine:3", command }] }),
    });
    assert.equal(created.status, 200);
    return ((await created.json()) as { id: string }).id;
  };

  /** Spans end after the answer that their work made visible: wait until `check` holds. */
  const eventually = async (what: string, check: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      assert.ok(Date.now() < deadline, what);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const inTrace = (traceId: string): ReadableSpan[] => spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
  const one = (found: ReadableSpan[], name: string): ReadableSpan => {
    const named = found.filter((span) => span.name === name);
    assert.equal(named.length, 1, `one "${name}" span in the trace: ${found.map((span) => span.name).join(", ")}`);
    return named[0]!;
  };
  const linksTo = (span: ReadableSpan, traceId: string) => span.links.some((link) => link.context.traceId === traceId);

  test("a task ending through the poll cycle: its state changes are spans of its own trace, under CreateTask; the bulk poll and release link to it", async () => {
    const { traceId, traceparent } = newTrace();
    const id = await create(traceparent, ["sh", "-c", "echo traced"]);
    await waitForTaskState(baseUrl, id, "COMPLETE");
    await eventually("the COMPLETE change's span ends", () =>
      inTrace(traceId).some((span) => span.name === "poll update" && span.attributes["tes.task.to"] === "COMPLETE"),
    );

    const trace = inTrace(traceId);
    const createTask = one(trace, "ga4gh.tes.v1.TaskService/CreateTask");
    const updates = trace.filter((span) => span.name === "poll update");
    assert.ok(updates.length >= 1, "at least the change to COMPLETE");
    for (const update of updates) {
      assert.equal(update.parentSpanContext?.spanId, createTask.spanContext().spanId, "each poll update is a child of the CreateTask call");
      assert.equal(update.attributes["tes.task_id"], id);
    }
    const ended = updates.find((span) => span.attributes["tes.task.to"] === "COMPLETE")!;
    assert.equal(ended.attributes["tes.backend.phase"], "ended");

    // The bulk calls live in the poll cycle's traces and link to the task's trace.
    const all = spans.getFinishedSpans();
    const polls = all.filter((span) => span.name === "backend poll" && linksTo(span, traceId));
    assert.ok(polls.length >= 1, "a backend poll links to the task's trace");
    for (const poll of polls) assert.notEqual(poll.spanContext().traceId, traceId, "the bulk poll is not in the task's trace");
    // The release follows the COMPLETE change, so its span may still be open when the change's ends.
    const releases = () => spans.getFinishedSpans().filter((span) => span.name === "backend release" && linksTo(span, traceId));
    await eventually("the release of the ended attempt ends", () => releases().length > 0);
    const release = releases();
    assert.equal(release.length, 1, "the one release of the ended attempt links to the task's trace");
    assert.equal(release[0]!.attributes["tes.backend.items"], 1);
    // And back: the change links to the poll call that reported it.
    const pollIds = new Set(polls.map((poll) => poll.spanContext().spanId));
    assert.ok(ended.links.some((link) => pollIds.has(link.context.spanId)), "the COMPLETE change links to the backend poll that reported the end");
  });

  test("a CancelTask's trace spans the API call, the queue, the cancel job and the backend cancel; the job links to the task's own trace", async () => {
    const task = newTrace();
    const id = await create(task.traceparent, ["sleep", "60"]);
    await waitForTaskState(baseUrl, id, "RUNNING");

    const cancel = newTrace();
    const canceled = await fetch(`${baseUrl}/ga4gh/tes/v1/tasks/${id}:cancel`, { method: "POST", headers: { traceparent: cancel.traceparent } });
    assert.equal(canceled.status, 200);
    await waitForTaskState(baseUrl, id, "CANCELED");
    await eventually("the cancel job's span ends", () => inTrace(cancel.traceId).some((span) => span.name === "cancel process"));

    const trace = inTrace(cancel.traceId);
    const api = one(trace, "ga4gh.tes.v1.TaskService/CancelTask");
    const publish = one(trace, "cancel publish");
    const job = one(trace, "cancel process");
    const backendCancel = one(trace, "backend cancel");
    const backendRelease = one(trace, "backend release");
    assert.equal(api.attributes["tes.task_id"], id);
    assert.equal(publish.parentSpanContext?.spanId, api.spanContext().spanId, "the enqueue is a child of the API call");
    assert.equal(job.parentSpanContext?.spanId, publish.spanContext().spanId, "the worker's job continues from the enqueue, across Redis");
    assert.equal(job.attributes["tes.task_id"], id);
    assert.equal(backendCancel.parentSpanContext?.spanId, job.spanContext().spanId, "the backend cancel is the job's call");
    assert.equal(backendCancel.attributes["tes.backend"], "local");
    assert.equal(backendRelease.parentSpanContext?.spanId, job.spanContext().spanId, "so is the release after CANCELED is stored");
    assert.ok(linksTo(job, task.traceId), "the cancel job links to the trace of the task's CreateTask");
    assert.equal(inTrace(task.traceId).filter((span) => span.name === "ga4gh.tes.v1.TaskService/CreateTask").length, 1);
  });
});
