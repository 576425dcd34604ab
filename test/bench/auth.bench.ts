import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import autocannon from "autocannon";
import { createAuthentication } from "../../src/auth/authentication.js";
import { loadAuthConfig } from "../../src/config/auth.js";
import { GetTaskRequestSchema, TaskService, View } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { createGrpcJsClient, grpcUnary } from "../support/grpc-js-client.js";
import { OidcTestIssuer } from "../support/oidc-issuer.js";
import type { BenchFunction, Figure } from "./bench-result.js";
import { alternate, cpuSeconds, RoundSamples, startBenchServer, stopBenchServer, type BenchServer } from "./support/paired-runs.js";

const SERVER = fileURLToPath(new URL("./support/auth-bench-server.ts", import.meta.url));
const CONCURRENCY = 32;
const WARMUP_SECONDS = 1;
/** Measurements alternate off/on (then on/off) this many times, so drift on a shared box hits both alike. */
const ROUNDS = 6;

/**
 * What checking bearer tokens costs: GetTask (BASIC, from SQLite) on a server with TES_AUTH_MODE
 * oidc (Entra-style multi-tenant issuer, per-tenant isolation; every call verifies an RS256 JWT)
 * next to the same server with mode none, over REST (autocannon) and gRPC (grpc-js). The local OIDC
 * issuer counts key fetches: checks on must not fetch keys per call. Target on/off >= 0.9, for
 * throughput and (steadier on a shared box) for the server process's CPU time per call; each ratio
 * is the median over the rounds, the figures are means.
 */
export const bench: BenchFunction = async ({ durationSeconds, log }) => {
  const issuer = await OidcTestIssuer.start();
  const tenant = randomUUID();
  const token = await issuer.tenantToken(tenant, { expiresIn: 3600 });
  const oidcEnv = {
    TES_AUTH_MODE: "oidc",
    OIDC_ISSUER: issuer.issuerTemplate,
    OIDC_AUDIENCE: "api://tes",
    OIDC_ALLOWED_TENANTS: tenant,
  };
  const off = await startServer({ TES_AUTH_MODE: "none" }, token);
  const on = await startServer(oidcEnv, token);
  const fetchesAtStart = issuer.keyFetches;
  const samples = new RoundSamples();
  const add = (name: string, value: number) => samples.add(name, value);
  let keyFetchesDuringRun = 0;
  let interceptorFigures: Record<string, Figure> = {};
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mode, server] of alternate(round, [["off", off], ["on", on]] as const)) {
        const request = {
          url: `http://127.0.0.1:${server.port}/ga4gh/tes/v1/tasks/${server.taskId}?view=BASIC`,
          connections: CONCURRENCY,
          headers: { authorization: `Bearer ${token}` },
        };
        await autocannon({ ...request, duration: WARMUP_SECONDS });
        log(`rest getTask, checks ${mode}, round ${round + 1}: ${durationSeconds} s, ${CONCURRENCY} connections`);
        const cpuBefore = cpuSeconds(server.child);
        const result = await autocannon({ ...request, duration: durationSeconds });
        const restCpu = cpuSeconds(server.child) - cpuBefore;
        if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
          throw new Error(`rest getTask (checks ${mode}): ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
        }
        add(`rest.getTask.${mode}.rps`, result.requests.average);
        add(`rest.getTask.${mode}.p99`, result.latency.p99);
        add(`rest.getTask.${mode}.serverCpuPerCall`, (restCpu / result.requests.total) * 1e6);

        log(`grpc getTask, checks ${mode}, round ${round + 1}: ${durationSeconds} s, ${CONCURRENCY} calls in flight`);
        const grpcCpuBefore = cpuSeconds(server.child);
        const grpc = await grpcLoop(server.port, server.taskId, token, durationSeconds);
        const grpcCpu = cpuSeconds(server.child) - grpcCpuBefore;
        add(`grpc.getTask.${mode}.rps`, grpc.rps);
        add(`grpc.getTask.${mode}.p99`, grpc.p99);
        add(`grpc.getTask.${mode}.serverCpuPerCall`, (grpcCpu / grpc.calls) * 1e6);
      }
    }
    keyFetchesDuringRun = issuer.keyFetches - fetchesAtStart;
    log("in process: the interceptor alone, the same token (remembered) and a new token each call (verified)");
    interceptorFigures = await interceptorCost(issuer, tenant, oidcEnv);
  } finally {
    await stopServer(off.child);
    await stopServer(on.child);
    await issuer.close();
  }
  const figures = samples.figures();
  figures["oidc.keyFetchesDuringRun"] = { value: keyFetchesDuringRun, unit: "fetches" };
  Object.assign(figures, interceptorFigures);
  const ratio = (a: string, b: string, target: number) => samples.ratio(a, b, target);
  return {
    figures,
    ratios: {
      "rest.getTask checks on/off": ratio("rest.getTask.on.rps", "rest.getTask.off.rps", 0.9),
      "grpc.getTask checks on/off": ratio("grpc.getTask.on.rps", "grpc.getTask.off.rps", 0.9),
      // Server CPU per call, off over on: the same ratio, far less sensitive to other load on the box.
      "rest.getTask server cpu/call off/on": ratio("rest.getTask.off.serverCpuPerCall", "rest.getTask.on.serverCpuPerCall", 0.9),
      "grpc.getTask server cpu/call off/on": ratio("grpc.getTask.off.serverCpuPerCall", "grpc.getTask.on.serverCpuPerCall", 0.9),
    },
  };
};

/** The authentication interceptor's own cost per call, in this process, with a no-op handler. */
async function interceptorCost(issuer: OidcTestIssuer, tenant: string, env: Record<string, string>): Promise<Record<string, Figure>> {
  const auth = createAuthentication(loadAuthConfig(env));
  await auth.load();
  const interceptor = auth.interceptors[0]!;
  const call = interceptor(async (req) => ({ stream: false, service: req.service, method: req.method, message: {}, header: new Headers(), trailer: new Headers() }) as never);
  const request = (token: string) =>
    ({
      stream: false,
      service: TaskService,
      method: TaskService.method.getTask,
      header: new Headers({ authorization: `Bearer ${token}` }),
      contextValues: createContextValues(),
    }) as never;
  const same = await issuer.tenantToken(tenant);
  const fresh = await Promise.all(Array.from({ length: 2000 }, () => issuer.tenantToken(tenant)));
  for (let i = 0; i < 2000; i++) await call(request(same));
  let started = performance.now();
  for (let i = 0; i < 20_000; i++) await call(request(same));
  const remembered = ((performance.now() - started) / 20_000) * 1000;
  started = performance.now();
  for (const token of fresh) await call(request(token));
  const verified = ((performance.now() - started) / fresh.length) * 1000;
  return {
    "interceptor.rememberedToken.perCall": { value: Math.round(remembered * 10) / 10, unit: "µs" },
    "interceptor.verifiedToken.perCall": { value: Math.round(verified * 10) / 10, unit: "µs" },
  };
}

interface AuthBenchServer {
  readonly child: BenchServer<unknown>["child"];
  readonly port: number;
  readonly taskId: string;
}

async function startServer(env: Record<string, string>, token: string): Promise<AuthBenchServer> {
  const { child, info } = await startBenchServer<{ port: number; taskId: string }>(SERVER, { ...env, BENCH_TOKEN: token });
  return { child, port: info.port, taskId: info.taskId };
}

const stopServer = stopBenchServer;

async function grpcLoop(port: number, taskId: string, token: string, seconds: number): Promise<{ rps: number; p99: number; calls: number }> {
  const client = createGrpcJsClient(TaskService, `127.0.0.1:${port}`);
  const request = create(GetTaskRequestSchema, { id: taskId, view: View.BASIC });
  const metadata = { authorization: `Bearer ${token}` };
  try {
    const run = async (duration: number) => {
      const latencies: number[] = [];
      const started = performance.now();
      const deadline = started + duration * 1000;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < deadline) {
            const t0 = performance.now();
            await grpcUnary(client, TaskService.method.getTask, request, metadata);
            latencies.push(performance.now() - t0);
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      return {
        rps: latencies.length / ((performance.now() - started) / 1000),
        p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
        calls: latencies.length,
      };
    };
    await run(WARMUP_SECONDS);
    return await run(seconds);
  } finally {
    client.close();
  }
}
