/**
 * A worker process with the scripted backend, for the fault tests:
 * `node --import tsx test/worker-support/worker-process.ts`, with the worker's settings and
 * SCRIPTED_BACKEND_DIR in the environment. It is composed the way src/app.ts composes a worker,
 * except for the backend (the local backend's own fault tests run `src/cli.ts worker` itself).
 * Prints "ready" once it takes jobs, and closes cleanly on SIGTERM; the tests also SIGKILL it.
 */
import { loadStoreConfig } from "../../src/config/store.js";
import { loadWorkerConfig } from "../../src/config/worker.js";
import { resolveRedis } from "../../src/redis/resolve-redis.js";
import { openTaskStore } from "../../src/store/open-task-store.js";
import { startWorkerPool } from "../../worker/worker-pool.js";
import { ScriptedBackend } from "./scripted-backend.js";

const backendDir = process.env.SCRIPTED_BACKEND_DIR;
if (backendDir === undefined) throw new Error("SCRIPTED_BACKEND_DIR must be set");
const config = loadWorkerConfig(process.env);
const redis = await resolveRedis(config.queue);
const store = await openTaskStore(loadStoreConfig(process.env));
const backend = await ScriptedBackend.create(backendDir);
const pool = await startWorkerPool({ store, connection: redis.address.options, backend, config });
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void (async () => {
    await pool.close();
    await store.close();
    await redis.close();
    process.exit(0);
  })();
});
