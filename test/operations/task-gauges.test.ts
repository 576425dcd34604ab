import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { v7 as uuidv7 } from "uuid";
import { State, TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { overrideStore } from "../../src/service/testing/override-store.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import { observeTasksByState } from "../../src/telemetry/task-gauges.js";
import { captureLogs } from "../auth/capture-logs.js";

let dir: string;
let store: SqliteTaskStore;
let provider: MeterProvider;
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tes-task-gauges-"));
  store = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
  await store.migrate();
  provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
});

after(async () => {
  await provider.shutdown();
  metrics.disable();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** tes.tasks as one collection exports it, by state name; undefined when it has no points. */
async function collect(): Promise<Record<string, number> | undefined> {
  exporter.reset();
  await reader.forceFlush();
  const metric = exporter.getMetrics().at(-1)?.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === "tes.tasks");
  if (metric === undefined || metric.dataPoints.length === 0) return undefined;
  return Object.fromEntries(metric.dataPoints.map((p) => [String(p.attributes.state), p.value as number]));
}

test("tes.tasks: counts per live state; a failing store reports nothing, is logged once, and recovers; stopping ends it", async () => {
  let failing = false;
  let reads = 0;
  const flaky = overrideStore(store, {
    async countByState(states) {
      reads += 1;
      if (failing) throw new Error("database is locked");
      return store.countByState(states);
    },
  });
  const lines: Array<Record<string, unknown>> = [];
  const stop = observeTasksByState(flaky, captureLogs(lines));

  for (const state of [State.QUEUED, State.QUEUED, State.RUNNING, State.COMPLETE]) {
    await store.insert(create(TaskSchema, { id: uuidv7(), state, creationTime: new Date().toISOString() }), "");
  }
  assert.deepEqual(await collect(), { QUEUED: 2, INITIALIZING: 0, RUNNING: 1, CANCELING: 0 });
  assert.equal(reads, 1, "the store is read at collection time, once per collection");

  failing = true;
  await store.insert(create(TaskSchema, { id: uuidv7(), state: State.QUEUED, creationTime: new Date().toISOString() }), "");
  // The callback observes nothing; the SDK's cumulative gauge keeps the last counts read (never zeros).
  assert.deepEqual(await collect(), { QUEUED: 2, INITIALIZING: 0, RUNNING: 1, CANCELING: 0 });
  await collect();
  assert.equal(reads, 3);
  const warnings = lines.filter((line) => line.level === 40);
  assert.equal(warnings.length, 1, "a failure that lasts is logged once, not at every collection");
  assert.match(String(warnings[0]?.msg), /tes\.tasks not reported/);

  failing = false;
  assert.deepEqual(await collect(), { QUEUED: 3, INITIALIZING: 0, RUNNING: 1, CANCELING: 0 }, "counts come back when the store does");
  assert.ok(lines.some((line) => line.level === 30 && /reported again/.test(String(line.msg))));

  stop();
  await collect();
  assert.equal(reads, 4, "no read after stopping");
});
