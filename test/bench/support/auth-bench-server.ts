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
import { serveUntilStopped } from "./bench-server-process.js";
import { createBenchTask } from "./bench-task.js";

const dir = await mkdtemp(join(tmpdir(), "tes-auth-bench-"));
const auth = createAuthentication(loadAuthConfig(process.env));
await auth.load();
const server = await startTestServer({
  sqlitePath: join(dir, "tasks.db"),
  interceptors: [...auth.interceptors],
  env: { MAX_CONCURRENT_STREAMS: "1000" },
});
const taskId = await createBenchTask(server.baseUrl, { headers: { authorization: `Bearer ${process.env.BENCH_TOKEN ?? ""}` } });

serveUntilStopped({ port: server.port, taskId }, async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});
