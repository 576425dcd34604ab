/**
 * A worker process for the fault tests: `node --import tsx test/worker-support/worker-process.ts`
 * with the worker's settings in the environment. SCRIPTED_BACKEND_DIR set: the scripted backend
 * over that directory; else the backend TES_BACKEND names. Prints "ready" once it takes jobs, and
 * closes cleanly on SIGTERM (the tests also SIGKILL it).
 */
import { startWorkerFromEnv } from "../../worker/start-worker.js";
import { ScriptedBackend } from "./scripted-backend.js";

const scriptedDir = process.env.SCRIPTED_BACKEND_DIR;
const backend = scriptedDir === undefined ? undefined : await ScriptedBackend.create(scriptedDir);
const worker = await startWorkerFromEnv(process.env, backend === undefined ? {} : { backend });
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
