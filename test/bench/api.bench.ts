import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create, type DescMessage, type DescMethodUnary, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import autocannon from "autocannon";
import { ExecutorSchema, GetTaskRequestSchema, TaskSchema, TaskService, View } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { createGrpcJsClient, grpcUnary } from "../support/grpc-js-client.js";
import type { BenchFunction, Figure, Ratio } from "./bench-result.js";
import { measureCreateTaskParts } from "./support/create-task-parts.js";
import { EchoService } from "./support/echo-service.js";

const SERVER = fileURLToPath(new URL("./support/api-bench-server.ts", import.meta.url));
const CONCURRENCY = 32;
const WARMUP_SECONDS = 1;
/** BENCH_API_ROUNDS: how many times each measurement runs (median reported); default 3. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_API_ROUNDS ?? "3") || 3);
/** BENCH_API_CASES: a comma-separated subset of the cases to run (say "rest.echo,rest.getTask,createTaskParts"); default all. */
const CASES = process.env.BENCH_API_CASES?.split(",").map((name) => name.trim());

const TASK_JSON = JSON.stringify({
  name: "bench-create",
  executors: [{ image: "alpine", command: ["echo", "hello"] }],
  inputs: [{ path: "/in/a.txt", url: "file:///data/a.txt" }],
  resources: { cpu_cores: 1 },
  tags: { project: "bench" },
});

/**
 * The API's unary throughput on one server process: a bare echo RPC on the same stack is the
 * ceiling, and GetTask (BASIC view and the default MINIMAL, from SQLite) and CreateTask (validate, insert, enqueue) are
 * measured against it, over REST (autocannon, HTTP/1.1) and over gRPC (a grpc-js loop, h2c). Over
 * REST, an echo of CreateTask's body (POST, read and parsed into a task, nothing stored) shows what
 * the POST alone costs on this stack, before any TES work.
 * CreateTask enqueues to BullMQ on a real Redis (REDIS_URL, default 127.0.0.1:6379), as in production.
 */
export const bench: BenchFunction = async ({ durationSeconds, log }) => {
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], { stdio: ["pipe", "pipe", "inherit", "ipc"] });
  /** The server process's CPU time so far, in microseconds (user + system). */
  const serverCpu = async (): Promise<number> => {
    child.send("cpu");
    const [reply] = (await once(child, "message")) as [{ cpu: NodeJS.CpuUsage }];
    return reply.cpu.user + reply.cpu.system;
  };
  try {
    const line = await firstLine(child.stdout);
    const { port, taskId } = JSON.parse(line) as { port: number; taskId: string };
    const base = `http://127.0.0.1:${port}`;
    const figures: Record<string, Figure> = {};

    // Each measurement runs ROUNDS times, interleaved with the others, and reports its median:
    // the box is shared, and a burst of someone else's work should not land on one figure only.
    // Wall-clock rates swing with whatever else the box runs; the server's CPU time per call does
    // not, so both are reported: cpuUs is the server's user+system microseconds per call.
    type Sample = { rps: number; p50: number; p99: number; calls: number };
    const samples = new Map<string, Sample[]>();
    const cpuPerCall = new Map<string, number[]>();
    const measurements: Array<[name: string, warmUp: () => Promise<unknown>, measure: () => Promise<Sample>]> = [];
    /** The REST cases again, paced at one offered rate that every case sustains (see below). */
    const pacedCases: Array<[name: string, measure: (rate: number) => Promise<Sample>]> = [];

    const restCase = (name: string, options: { path: string; method?: string; body?: string }) => {
      const request = {
        url: `${base}${options.path}`,
        connections: CONCURRENCY,
        method: options.method ?? "GET",
        ...(options.body !== undefined && { body: options.body, headers: { "content-type": "application/json" } }),
      };
      const run = async (overallRate?: number): Promise<Sample> => {
        const result = await autocannon({ ...request, duration: durationSeconds, ...(overallRate !== undefined && { overallRate }) });
        if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
          throw new Error(`rest ${name}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
        }
        return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, calls: result.requests.total };
      };
      measurements.push([`rest.${name}`, () => autocannon({ ...request, duration: WARMUP_SECONDS }), () => run()]);
      pacedCases.push([`rest.${name}`, run]);
    };
    restCase("echo", { path: "/bench/echo/abc" });
    // CreateTask's body read and parsed, nothing more: how much of CreateTask's cost a POST of it
    // takes on this stack before any TES work (reported, no target).
    restCase("echoTask", { path: "/bench/echo", method: "POST", body: TASK_JSON });
    restCase("getTask", { path: `/ga4gh/tes/v1/tasks/${taskId}?view=BASIC` });
    // No view: MINIMAL, as Nextflow and Cromwell poll.
    restCase("getTaskMinimal", { path: `/ga4gh/tes/v1/tasks/${taskId}` });
    restCase("createTask", { path: "/ga4gh/tes/v1/tasks", method: "POST", body: TASK_JSON });

    const echoClient = createGrpcJsClient(EchoService, `127.0.0.1:${port}`);
    const tesClient = createGrpcJsClient(TaskService, `127.0.0.1:${port}`);
    const grpcCase = <I extends DescMessage, O extends DescMessage>(
      name: string,
      client: grpc.Client,
      method: DescMethodUnary<I, O>,
      request: MessageShape<I>,
    ) => {
      measurements.push([
        `grpc.${name}`,
        () => unaryLoop(client, method, request, WARMUP_SECONDS),
        () => unaryLoop(client, method, request, durationSeconds),
      ]);
    };
    const echoMethod = EchoService.methods[0] as DescMethodUnary;
    grpcCase("echo", echoClient, echoMethod, create(echoMethod.input, { id: "abc" } as never));
    grpcCase("getTask", tesClient, TaskService.method.getTask, create(GetTaskRequestSchema, { id: taskId, view: View.BASIC }));
    grpcCase("getTaskMinimal", tesClient, TaskService.method.getTask, create(GetTaskRequestSchema, { id: taskId }));
    grpcCase(
      "createTask",
      tesClient,
      TaskService.method.createTask,
      create(TaskSchema, { name: "bench-create", executors: [create(ExecutorSchema, { image: "alpine", command: ["echo", "hello"] })] }),
    );

    try {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [name, warmUp, measure] of measurements) {
          if (CASES !== undefined && !CASES.includes(name)) continue;
          log(`round ${round}/${ROUNDS} ${name}: ${durationSeconds} s, ${CONCURRENCY} in flight`);
          const list = samples.get(name) ?? [];
          await warmUp();
          const cpuBefore = await serverCpu();
          const sample = await measure();
          const cpu = (await serverCpu()) - cpuBefore;
          list.push(sample);
          samples.set(name, list);
          const cpuList = cpuPerCall.get(name) ?? [];
          cpuList.push(cpu / sample.calls);
          cpuPerCall.set(name, cpuList);
        }
      }

      // At saturation a cheaper call is served at a higher rate, and the rate itself changes the
      // cost per call (how many requests one wake-up and one writev serve). So each REST case runs
      // once more beside the echo, both paced at one offered rate (60% of the slower of the two's
      // saturated rate): the same load, so server CPU per call compares like for like.
      const saturated = (name: string) => median((samples.get(name) ?? []).map((x) => x.rps));
      const echo = pacedCases.find(([name]) => name === "rest.echo");
      const paired = pacedCases.filter(([name]) => name !== "rest.echo" && samples.has(name));
      if (echo !== undefined && samples.has("rest.echo")) {
        for (let round = 1; round <= ROUNDS; round++) {
          for (const [name, run] of paired) {
            const rate = Math.max(1, Math.floor(0.6 * Math.min(saturated(name), saturated("rest.echo"))));
            figures[`${name}.pacedRate`] = { value: rate, unit: "req/s" };
            for (const [measured, measure] of [[`${name}.paced`, run], [`rest.echo.pacedWith.${name.slice("rest.".length)}`, echo[1]]] as const) {
              log(`round ${round}/${ROUNDS} ${measured} at ${rate} req/s: ${durationSeconds} s`);
              const cpuBefore = await serverCpu();
              const sample = await measure(rate);
              const cpu = (await serverCpu()) - cpuBefore;
              samples.set(measured, [...(samples.get(measured) ?? []), sample]);
              cpuPerCall.set(measured, [...(cpuPerCall.get(measured) ?? []), cpu / sample.calls]);
            }
          }
        }
      }
    } finally {
      echoClient.close();
      tesClient.close();
    }
    if (CASES === undefined || CASES.includes("createTaskParts")) {
      log(`createTaskParts: read, validate, encode, SQLite insert, BullMQ enqueue, ${durationSeconds} s each`);
      Object.assign(figures, await measureCreateTaskParts(TASK_JSON, durationSeconds));
    }
    for (const [name, list] of samples) {
      figures[`${name}.rps`] = { value: Math.round(median(list.map((x) => x.rps))), unit: "req/s" };
      figures[`${name}.p50`] = { value: median(list.map((x) => x.p50)), unit: "ms" };
      figures[`${name}.p99`] = { value: median(list.map((x) => x.p99)), unit: "ms" };
      figures[`${name}.cpuUs`] = { value: median(cpuPerCall.get(name) ?? []), unit: "us/call" };
    }

    const ratio = (a: string, b: string, target?: number): Ratio => {
      const top = figures[a]?.value ?? Number.NaN;
      const bottom = figures[b]?.value ?? Number.NaN;
      return { value: Math.round((top / bottom) * 1000) / 1000, of: [a, b], ...(target !== undefined && { target }) };
    };
    // The same ratios from server CPU per call: the throughput ratio the server would reach when
    // it, not the load generator or a neighbour, is the bottleneck.
    const cpuRatio = (call: string, echo: string, target?: number): Ratio => ratio(`${echo}.cpuUs`, `${call}.cpuUs`, target);
    const ratios: Record<string, Ratio> = {
        "rest.getTask/echo": ratio("rest.getTask.rps", "rest.echo.rps", 0.8),
        "rest.getTaskMinimal/echo": ratio("rest.getTaskMinimal.rps", "rest.echo.rps", 0.8),
        "rest.createTask/echo": ratio("rest.createTask.rps", "rest.echo.rps", 0.5),
        "rest.echoTask/echo": ratio("rest.echoTask.rps", "rest.echo.rps"),
        "rest.createTask/echoTask": ratio("rest.createTask.rps", "rest.echoTask.rps"),
        "grpc.getTask/echo": ratio("grpc.getTask.rps", "grpc.echo.rps", 0.8),
        "grpc.getTaskMinimal/echo": ratio("grpc.getTaskMinimal.rps", "grpc.echo.rps", 0.8),
        "grpc.createTask/echo": ratio("grpc.createTask.rps", "grpc.echo.rps", 0.5),
        "rest.getTask/echo (cpu)": cpuRatio("rest.getTask", "rest.echo", 0.8),
        "rest.getTaskMinimal/echo (cpu)": cpuRatio("rest.getTaskMinimal", "rest.echo", 0.8),
        "rest.createTask/echo (cpu)": cpuRatio("rest.createTask", "rest.echo", 0.5),
        "rest.echoTask/echo (cpu)": cpuRatio("rest.echoTask", "rest.echo"),
        "grpc.getTask/echo (cpu)": cpuRatio("grpc.getTask", "grpc.echo", 0.8),
        "grpc.getTaskMinimal/echo (cpu)": cpuRatio("grpc.getTaskMinimal", "grpc.echo", 0.8),
        "grpc.createTask/echo (cpu)": cpuRatio("grpc.createTask", "grpc.echo", 0.5),
        "rest.getTask/echo (cpu, paced)": cpuRatio("rest.getTask.paced", "rest.echo.pacedWith.getTask", 0.8),
        "rest.getTaskMinimal/echo (cpu, paced)": cpuRatio("rest.getTaskMinimal.paced", "rest.echo.pacedWith.getTaskMinimal", 0.8),
        "rest.createTask/echo (cpu, paced)": cpuRatio("rest.createTask.paced", "rest.echo.pacedWith.createTask", 0.5),
        "rest.echoTask/echo (cpu, paced)": cpuRatio("rest.echoTask.paced", "rest.echo.pacedWith.echoTask"),
    };
    // With BENCH_API_CASES, ratios of cases not run are left out rather than reported as NaN.
    return { figures, ratios: Object.fromEntries(Object.entries(ratios).filter(([, { value }]) => Number.isFinite(value))) };
  } finally {
    child.stdin?.end();
    child.kill("SIGTERM");
    if (child.exitCode === null) await once(child, "exit");
  }
};

/** CONCURRENCY calls kept in flight for `seconds`; every call must succeed. */
async function unaryLoop<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageShape<I>,
  seconds: number,
): Promise<{ rps: number; p50: number; p99: number; calls: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await grpcUnary(client, method, request);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10;
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), calls: latencies.length };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return Math.round(value * 10) / 10;
}

async function firstLine(stream: NodeJS.ReadableStream | null): Promise<string> {
  if (stream === null) throw new Error("the bench server has no stdout");
  const lines = createInterface({ input: stream });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  throw new Error("the bench server exited before it listened");
}
