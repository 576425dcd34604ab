import { join } from "node:path";
import { TEST_REDIS_URL } from "../worker-support/harness.js";

/**
 * The settings of a whole TES server (API and worker) as the tests run it: a free loopback port,
 * the local backend in the bwrap sandbox, its data under `dir`/data, and the tests' Redis under a
 * queue prefix of its own, so runs never share jobs. The worker polls every 100 ms, so a test sees
 * a task end without waiting on the poll cycle.
 */
export function localServerEnv(dir: string, queuePrefix: string): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    TES_DATA_DIR: join(dir, "data"),
    TES_BACKEND: "local",
    TES_CONTAINER_RUNTIME: "bwrap",
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    WORKER_POLL_INTERVAL_MS: "100",
  };
}
