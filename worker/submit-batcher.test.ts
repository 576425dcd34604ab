import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { loadLocalBackendConfig } from "../src/config/local-backend.js";
import { loadTelemetryConfig } from "../src/config/telemetry.js";
import { ExecutorSchema } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { startTelemetry, type Telemetry } from "../src/telemetry/telemetry.js";
import { queuedTask } from "../test/worker-support/harness.js";
import type { Attempt, ComputeBackend } from "./backends/compute-backend.js";
import { instrumentBackend } from "./backends/instrumented-backend.js";
import { LocalBackend } from "./backends/local/local-backend.js";
import { attemptId } from "./task-state-machine.js";
import { SubmitBatcher } from "./submit-batcher.js";

let dir: string;
let local: LocalBackend;
let backend: ComputeBackend;
let telemetry: Telemetry;
const spans = new InMemorySpanExporter();
const handles: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tes-submit-batcher-"));
  telemetry = startTelemetry(loadTelemetryConfig({ METRICS_ENDPOINT_ENABLED: "false" }), { spanProcessors: [new SimpleSpanProcessor(spans)] });
  local = new LocalBackend(loadLocalBackendConfig({ TES_DATA_DIR: dir, TES_CONTAINER_RUNTIME: "bwrap" }));
  backend = instrumentBackend(local);
});

after(async () => {
  await local.cancel(handles);
  await local.release(handles);
  await local.close();
  await telemetry.shutdown();
  await rm(dir, { recursive: true, force: true });
});

function attempt(): Attempt {
  const task = queuedTask();
  task.executors = [create(ExecutorSchema, { image: "alpine:3", command: ["sleep", "30"] })];
  return { taskId: task.id, attempt: 0, attemptId: attemptId(task.id, 0), task };
}

/** Submits in a span of its own, as a submit job does in its task's trace; returns that span's ids. */
async function submitInJob(batcher: SubmitBatcher, name: string) {
  return trace.getTracer("test").startActiveSpan(name, async (span) => {
    const outcome = await batcher.submit(attempt());
    span.end();
    assert.equal(outcome.kind, "submitted");
    if (outcome.kind === "submitted") handles.push(outcome.handle);
    return span.spanContext();
  });
}

test("a backend submit carrying several tasks is a trace of its own, linked to each task's job span, each of which links back", async () => {
  const batcher = new SubmitBatcher(backend, 3, 5_000);
  const jobs = await Promise.all(["job a", "job b", "job c"].map((name) => submitInJob(batcher, name)));
  const calls = spans.getFinishedSpans().filter((span) => span.name === "backend submit");
  assert.equal(calls.length, 1, "the three submissions went in one backend call");
  const call = calls[0]!;
  assert.equal(call.attributes["tes.backend.items"], 3);
  assert.equal(call.parentSpanContext, undefined, "the call is the root of a trace of its own");
  for (const job of jobs) assert.notEqual(call.spanContext().traceId, job.traceId);
  assert.deepEqual(
    call.links.map((link) => link.context.spanId).sort(),
    jobs.map((job) => job.spanId).sort(),
    "the call links to each task's job span",
  );
  for (const name of ["job a", "job b", "job c"]) {
    const job = spans.getFinishedSpans().find((span) => span.name === name)!;
    assert.deepEqual(job.links.map((link) => link.context.spanId), [call.spanContext().spanId], `${name} links back to the call`);
  }
});

test("a backend submit carrying one task is a child of that task's job span", async () => {
  spans.reset();
  const batcher = new SubmitBatcher(backend, 3, 10);
  const job = await submitInJob(batcher, "job alone");
  const call = spans.getFinishedSpans().find((span) => span.name === "backend submit")!;
  assert.equal(call.spanContext().traceId, job.traceId);
  assert.equal(call.parentSpanContext?.spanId, job.spanId);
  assert.deepEqual(call.links, []);
});
