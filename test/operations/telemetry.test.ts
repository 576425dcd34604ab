import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { startApp, type RunningApp } from "../../src/app.js";
import { localServerEnv } from "../support/local-server-env.js";
import { TERMINAL_STATES, waitForTaskState } from "./task-state-wait.js";

/** The sum of a counter's points whose attributes include `match`. */
function total(collected: ResourceMetrics[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const resource of collected.slice(-1)) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) {
          if (!Object.entries(match).every(([k, v]) => point.attributes[k] === v)) continue;
          const value = point.value as number | { count: number };
          sum += typeof value === "number" ? value : value.count;
        }
      }
    }
  }
  return sum;
}

describe("OpenTelemetry: one trace from the API call to the backend; metrics that move as tasks run", () => {
  let dir: string;
  let app: RunningApp;
  let baseUrl: string;
  const spans = new InMemorySpanExporter();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-telemetry-"));
    app = await startApp(
      localServerEnv(dir, `tes-telemetry-${randomUUID()}`),
      { api: true, worker: true },
      pino({ level: "silent" }),
      { telemetry: { spanProcessors: [new SimpleSpanProcessor(spans)], metricReaders: [reader] } },
    );
    baseUrl = `http://127.0.0.1:${app.address!.port}`;
  });

  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const runTask = async (headers: Record<string, string> = {}, inputs: { path: string; content: string }[] = []): Promise<string> => {
    const created = await fetch(`${baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ inputs, executors: [{ image: "alpine:3", command: ["sh", "-c", "echo traced"] }] }),
    });
    assert.equal(created.status, 200);
    const { id } = (await created.json()) as { id: string };
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { state } = (await (await fetch(`${baseUrl}/ga4gh/tes/v1/tasks/${id}`)).json()) as { state: string };
      if (TERMINAL_STATES.includes(state)) {
        assert.equal(state, "COMPLETE");
        return id;
      }
      assert.ok(Date.now() < deadline, "the task ends within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  /** tes.tasks as the next collection reads it, by state name. */
  const tasksByState = async (): Promise<Record<string, number>> => {
    await reader.forceFlush();
    const metric = metricExporter.getMetrics().at(-1)!.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === "tes.tasks");
    assert.ok(metric !== undefined, "tes.tasks is observed");
    return Object.fromEntries(metric.dataPoints.map((p) => [String(p.attributes.state), p.value as number]));
  };

  test("tes.tasks counts the tasks in each live state, read from the store at each collection", async () => {
    await runTask();
    assert.deepEqual(await tasksByState(), { QUEUED: 0, INITIALIZING: 0, RUNNING: 0, CANCELING: 0 }, "an ended task is in no live state");

    const created = await fetch(`${baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ executors: [{ image: "alpine:3", command: ["sleep", "60"] }] }),
    });
    assert.equal(created.status, 200);
    const { id } = (await created.json()) as { id: string };
    await waitForTaskState(baseUrl, id, "RUNNING");
    assert.deepEqual(await tasksByState(), { QUEUED: 0, INITIALIZING: 0, RUNNING: 1, CANCELING: 0 });

    assert.equal((await fetch(`${baseUrl}/ga4gh/tes/v1/tasks/${id}:cancel`, { method: "POST" })).status, 200);
    await waitForTaskState(baseUrl, id, "CANCELED");
    assert.deepEqual(await tasksByState(), { QUEUED: 0, INITIALIZING: 0, RUNNING: 0, CANCELING: 0 });
  });

  test("tes.filetransfer.input_bytes moves by the bytes of the task's inputs, once per attempt", async () => {
    await reader.forceFlush();
    const before = total(metricExporter.getMetrics(), "tes.filetransfer.input_bytes", { state: "COMPLETE" });
    const inputs = [
      { path: "/in/a.txt", content: "a".repeat(1000) },
      { path: "/in/b.txt", content: "é".repeat(50) },
    ];
    await runTask({}, inputs);
    await reader.forceFlush();
    const after = total(metricExporter.getMetrics(), "tes.filetransfer.input_bytes", { state: "COMPLETE" });
    assert.equal(after - before, 1000 + 100, "UTF-8 bytes of both content inputs, counted once");
  });

  test("the caller's trace continues through CreateTask, the queue, the worker job and the backend submit", async () => {
    const traceId = randomBytes(16).toString("hex");
    const id = await runTask({ traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` });
    const inTrace = spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const names = inTrace.map((span) => span.name);
    for (const expected of ["ga4gh.tes.v1.TaskService/CreateTask", "submit publish", "submit process", "backend submit"]) {
      assert.ok(names.includes(expected), `"${expected}" is in the trace: ${names.join(", ")}`);
    }
    const byName = new Map(inTrace.map((span) => [span.name, span]));
    const server = byName.get("ga4gh.tes.v1.TaskService/CreateTask")!;
    const publish = byName.get("submit publish")!;
    const consume = byName.get("submit process")!;
    const backend = byName.get("backend submit")!;
    assert.equal(publish.parentSpanContext?.spanId, server.spanContext().spanId, "publish is a child of the API call");
    assert.equal(consume.parentSpanContext?.spanId, publish.spanContext().spanId, "the worker job continues from the publish, across Redis");
    assert.equal(server.attributes["tes.task_id"], id);
    assert.equal(consume.attributes["tes.task_id"], id);
    assert.equal(backend.attributes["tes.backend"], "local");
    // Other calls are traced too, each in a trace of its own.
    assert.ok(spans.getFinishedSpans().some((span) => span.name === "ga4gh.tes.v1.TaskService/GetTask"));
  });

  test("metrics: requests, latency, transitions, jobs, backend calls and queue depth change as tasks run; /metrics serves them", async () => {
    await reader.forceFlush();
    const before = metricExporter.getMetrics();
    const rest = { rpc: "ga4gh.tes.v1.TaskService/CreateTask", protocol: "rest", code: "ok" };
    const created0 = total(before, "tes.requests", rest);
    const completed0 = total(before, "tes.task.transitions", { to: "COMPLETE" });
    const submits0 = total(before, "tes.backend.calls", { method: "submit", outcome: "ok" });
    const jobs0 = total(before, "tes.jobs", { queue: "submit", outcome: "completed" });

    await runTask();
    await runTask();
    await reader.forceFlush();
    const now = metricExporter.getMetrics();
    assert.equal(total(now, "tes.requests", rest) - created0, 2);
    assert.ok(total(now, "tes.request.duration", rest) >= 2, "latency recorded per call");
    assert.equal(total(now, "tes.task.transitions", { to: "COMPLETE" }) - completed0, 2);
    assert.ok(total(now, "tes.task.transitions", { from: "QUEUED", to: "INITIALIZING" }) >= 2);
    assert.ok(total(now, "tes.backend.calls", { method: "submit", outcome: "ok" }) - submits0 >= 1);
    assert.ok(total(now, "tes.backend.calls", { method: "poll", outcome: "ok" }) >= 1);
    assert.equal(total(now, "tes.jobs", { queue: "submit", outcome: "completed" }) - jobs0, 2);
    const queueMetric = now.at(-1)!.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === "tes.queue.jobs");
    assert.ok(queueMetric !== undefined, "queue depth is observed");
    assert.deepEqual(
      queueMetric.dataPoints.map((p) => `${p.attributes.queue}/${p.attributes.state}`).sort(),
      ["cancel/active", "cancel/waiting", "submit/active", "submit/waiting"],
    );

    const scrape = await fetch(`${baseUrl}/metrics`);
    assert.equal(scrape.status, 200);
    const text = await scrape.text();
    assert.match(text, /^tes_requests_total\{[^}]*rpc="ga4gh\.tes\.v1\.TaskService\/CreateTask"[^}]*\} \d+/m);
    assert.match(text, /^tes_request_duration_bucket\{/m);
    assert.match(text, /^tes_queue_jobs\{/m);
    assert.match(text, /^tes_tasks\{[^}]*state="RUNNING"[^}]*\} \d+/m);
  });
});
