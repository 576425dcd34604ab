/**
 * The API server for tracing.bench.ts, in its own process: the real TaskService over an SQLite file
 * and the real BullMQ queue (Redis: REDIS_URL or 127.0.0.1:6379, under BENCH_QUEUE_PREFIX), with
 * the tracing interceptor, as the composition root builds them. BENCH_TRACING=on starts telemetry
 * as production does, sampling BENCH_SAMPLE_RATIO (default 1) of new traces, its spans handed to a
 * BatchSpanProcessor whose exporter drops them (what is measured is making and batching spans, not
 * shipping them); off starts none (the OpenTelemetry API's no-ops). Metrics are off in both.
 * Creates one task (BENCH_TASK, JSON) and prints one JSON line {port, taskId}; stops on SIGTERM or
 * when stdin closes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metrics } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { loadTelemetryConfig } from "../../../src/config/telemetry.js";
import { tracing } from "../../../src/interceptors/tracing.js";
import { BullMqTaskQueue } from "../../../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../../../src/redis/redis-address.js";
import { startTelemetry, type Telemetry } from "../../../src/telemetry/telemetry.js";
import { startTestServer } from "../../support/tes-test-server.js";
import { serveUntilStopped } from "./bench-server-process.js";
import { createBenchTask } from "./bench-task.js";

const mode = process.env.BENCH_TRACING;
if (mode !== "on" && mode !== "off") throw new Error(`BENCH_TRACING must be on or off, got "${mode}"`);
const prefix = process.env.BENCH_QUEUE_PREFIX;
if (prefix === undefined || prefix === "") throw new Error("BENCH_QUEUE_PREFIX is required");
if (process.env.BENCH_TASK === undefined) throw new Error("BENCH_TASK (the task to create, as JSON) is required");

/** Takes every batch and keeps nothing. */
const dropping: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};

let telemetry: Telemetry | undefined;
if (mode === "on") {
  telemetry = startTelemetry(
    loadTelemetryConfig({ METRICS_ENDPOINT_ENABLED: "false", OTEL_TRACES_SAMPLER_ARG: process.env.BENCH_SAMPLE_RATIO ?? "1" }),
    { spanProcessors: [new BatchSpanProcessor(dropping)] },
  );
  // Metrics back to the API's no-ops, as in the off mode: only tracing differs between the two.
  metrics.disable();
}
const dir = await mkdtemp(join(tmpdir(), "tes-tracing-bench-"));
const queue = new BullMqTaskQueue({ connection: redisAddressFromUrl(new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")).options, prefix });
const server = await startTestServer({
  sqlitePath: join(dir, "tasks.db"),
  interceptors: [tracing()],
  taskQueue: queue,
  env: { MAX_CONCURRENT_STREAMS: "1000" },
});
const taskId = await createBenchTask(server.baseUrl, { body: process.env.BENCH_TASK });

serveUntilStopped({ port: server.port, taskId }, async () => {
  await server.close();
  await queue.close();
  await telemetry?.shutdown();
  await rm(dir, { recursive: true, force: true });
});
