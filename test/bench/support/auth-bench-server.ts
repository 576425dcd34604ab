/**
 * The API server for auth.bench.ts, in its own process: the real TaskService over an SQLite file,
 * with authentication from the environment (TES_AUTH_MODE none or oidc, OIDC_*), as the composition
 * root builds it. Creates one task with BENCH_TOKEN (so it belongs to that token's owner) and prints
 * one JSON line {port, taskId}; stops on SIGTERM or when stdin closes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAuthentication } from "../../../src/auth/authentication.js";
import { loadAuthConfig } from "../../../src/config/auth.js";
import { startTestServer } from "../../support/tes-test-server.js";

const dir = await mkdtemp(join(tmpdir(), "tes-auth-bench-"));
const auth = createAuthentication(loadAuthConfig(process.env));
await auth.load();
const server = await startTestServer({
  sqlitePath: join(dir, "tasks.db"),
  interceptors: [...auth.interceptors],
  env: { MAX_CONCURRENT_STREAMS: "1000" },
});
const created = await fetch(`${server.baseUrl}/ga4gh/tes/v1/tasks`, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${process.env.BENCH_TOKEN ?? ""}` },
  body: JSON.stringify({
    name: "bench-task",
    inputs: [{ path: "/in/a.txt", url: "file:///data/a.txt" }],
    outputs: [{ path: "/out/b.txt", url: "file:///data/b.txt" }],
    executors: [{ image: "alpine", command: ["sh", "-c", "cat /in/a.txt > /out/b.txt"] }],
    resources: { cpu_cores: 1, ram_gb: 1 },
    tags: { project: "bench" },
  }),
});
if (!created.ok) throw new Error(`creating the bench task failed: HTTP ${created.status}`);
const { id } = (await created.json()) as { id: string };
process.stdout.write(`${JSON.stringify({ port: server.port, taskId: id })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.resume();
