import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { redisAddressFromUrl } from "../../src/redis/redis-address.js";
import { removeQueues, TEST_REDIS_URL, uniquePrefix } from "../worker-support/harness.js";
import type { BenchFunction, Figure } from "./bench-result.js";
import { BENCH_TASK_JSON } from "./support/bench-task.js";
import { alternate, cpuSeconds, RoundSamples, startBenchServer, stopBenchServer, type BenchServer } from "./support/paired-runs.js";

const SERVER = fileURLToPath(new URL("./support/tracing-bench-server.ts", import.meta.url));
const CONNECTIONS = 8;
/**
 * Calls per second offered to every server alike, well under what this 2-core box serves (~2000
 * GetTask/s, ~600 CreateTask/s while shared): each server then does the same work, so its CPU per
 * call compares like for like (at saturation it would also measure contention, and CreateTask's
 * group commits would grow with the throughput).
 */
const RATES = { getTask: 400, createTask: 150 } as const;
const RPCS = ["getTask", "createTask"] as const;
/**
 * Each measurement is one short slice, and the modes take turns slice by slice (the order reversed
 * each round), many rounds: load from other work on a shared box drifts slower than a round, so
 * it hits the three modes alike, and the median of the rounds' ratios drops the rounds it did not.
 */
const SLICE_SECONDS = 1;
const roundsFor = (durationSeconds: number) => Math.max(6, Math.round(durationSeconds * 4));

type Server = BenchServer<{ port: number; taskId: string }>;
const MODES = ["off", "unsampled", "on"] as const;
type Mode = (typeof MODES)[number];

/**
 * What tracing costs the API: REST GetTask (BASIC, from SQLite) and REST CreateTask (SQLite insert
 * plus a BullMQ job in Redis, which with tracing on stores the call's traceparent with the task and
 * carries it in the job) on a server with telemetry started as production starts it, 100% sampled
 * (`on`), spans batched to an exporter that drops them, next to the same server with no telemetry
 * at all (`off`), and one with telemetry started but nothing sampled (`unsampled`: what the context
 * propagation costs alone, i.e. what OTEL_TRACES_SAMPLER_ARG cannot take away). Metrics are off in
 * all three, so only tracing differs. Many short paired rounds (4 per BENCH_DURATION_S second),
 * each server offered the same fixed rate of calls (RATES); reported per call: the server
 * process's CPU time and the p99 latency at that rate. Target: tracing
 * adds at most 10% server CPU per call, i.e. off/on >= 0.909; `*.tracingOverhead` says by how much,
 * in % (`*.unsampledOverhead` for the unsampled server).
 */
export const bench: BenchFunction = async ({ durationSeconds, log }) => {
  const prefix = uniquePrefix("bench-tracing");
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
  const samples = new RoundSamples();
  const servers: Server[] = [];
  try {
    const start = async (mode: Mode, env: Record<string, string>): Promise<readonly [Mode, Server]> => {
      const server = await startBenchServer<Server["info"]>(SERVER, { ...env, BENCH_QUEUE_PREFIX: `${prefix}-${mode}`, BENCH_TASK: BENCH_TASK_JSON });
      servers.push(server);
      return [mode, server];
    };
    const modes = [
      await start("off", { BENCH_TRACING: "off" }),
      await start("unsampled", { BENCH_TRACING: "on", BENCH_SAMPLE_RATIO: "0" }),
      await start("on", { BENCH_TRACING: "on", BENCH_SAMPLE_RATIO: "1" }),
    ];
    const callsTo = (server: Server) => {
      const base = `http://127.0.0.1:${server.info.port}/ga4gh/tes/v1/tasks`;
      return {
        getTask: { url: `${base}/${server.info.taskId}?view=BASIC` },
        createTask: { url: base, method: "POST" as const, headers: { "content-type": "application/json" }, body: BENCH_TASK_JSON },
      };
    };
    // Every code path compiled (JIT) before any round counts: the first round would pay for it.
    log(`warming up each server: ${durationSeconds} s of each call`);
    for (const [, server] of modes) {
      const calls = callsTo(server);
      for (const rpc of RPCS) await autocannon({ ...calls[rpc], connections: CONNECTIONS, overallRate: RATES[rpc], duration: durationSeconds });
    }
    const rounds = roundsFor(durationSeconds);
    log(`${rounds} rounds of ${SLICE_SECONDS} s per mode and call`);
    for (let round = 0; round < rounds; round++) {
      for (const [mode, server] of alternate(round, modes)) {
        const calls = callsTo(server);
        for (const rpc of RPCS) {
          const options = { ...calls[rpc], connections: CONNECTIONS, overallRate: RATES[rpc] };
          const cpuBefore = cpuSeconds(server.child);
          const result = await autocannon({ ...options, duration: SLICE_SECONDS });
          const cpu = cpuSeconds(server.child) - cpuBefore;
          if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
            throw new Error(`rest ${rpc} (tracing ${mode}): ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
          }
          const perCall = (cpu / result.requests.total) * 1e6;
          log(`rest ${rpc}, tracing ${mode}, round ${round + 1}: ${result.requests.total} calls at ${RATES[rpc]}/s, ${perCall.toFixed(0)} µs server cpu/call, p99 ${result.latency.p99} ms`);
          samples.add(`rest.${rpc}.${mode}.p99`, result.latency.p99);
          samples.add(`rest.${rpc}.${mode}.serverCpuPerCall`, perCall);
        }
      }
    }
  } finally {
    for (const server of servers) await stopBenchServer(server.child);
    for (const mode of MODES) await removeQueues(connection, `${prefix}-${mode}`);
  }
  const figures: Record<string, Figure> = samples.figures();
  const ratios = {
    // Server CPU per call, off over on: what tracing adds to each call, little moved by other load.
    "rest.getTask server cpu/call off/on": samples.ratio("rest.getTask.off.serverCpuPerCall", "rest.getTask.on.serverCpuPerCall", 0.909),
    "rest.createTask server cpu/call off/on": samples.ratio("rest.createTask.off.serverCpuPerCall", "rest.createTask.on.serverCpuPerCall", 0.909),
    "rest.getTask server cpu/call off/unsampled": samples.ratio("rest.getTask.off.serverCpuPerCall", "rest.getTask.unsampled.serverCpuPerCall"),
    "rest.createTask server cpu/call off/unsampled": samples.ratio("rest.createTask.off.serverCpuPerCall", "rest.createTask.unsampled.serverCpuPerCall"),
  };
  const overhead = (offOverOn: number): Figure => ({ value: Math.round((1 / offOverOn - 1) * 1000) / 10, unit: "% cpu/call" });
  for (const rpc of RPCS) {
    figures[`rest.${rpc}.tracingOverhead`] = overhead(ratios[`rest.${rpc} server cpu/call off/on`].value);
    figures[`rest.${rpc}.unsampledOverhead`] = overhead(ratios[`rest.${rpc} server cpu/call off/unsampled`].value);
  }
  return { figures, ratios };
};
