/**
 * The API server for api.bench.ts, in its own process so that the load generators do not share
 * its event loop: the real TaskService over an SQLite file, enqueuing to BullMQ on the Redis at
 * REDIS_URL (default 127.0.0.1:6379, keys under a prefix of its own, removed at the end), the echo
 * service beside it, one port.
 * Prints one JSON line {port, taskId} once listening; answers an IPC message "cpu" with its
 * process.cpuUsage(), so the bench can charge server CPU time to each measurement; stops on
 * SIGTERM or when stdin closes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BullMqTaskQueue } from "../../../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../../../src/redis/redis-address.js";
import { startTestServer } from "../../support/tes-test-server.js";
import { removeQueues, TEST_REDIS_URL, uniquePrefix } from "../../worker-support/harness.js";
import { serveUntilStopped } from "./bench-server-process.js";
import { createBenchTask } from "./bench-task.js";
import { echoBinding } from "./echo-service.js";

const dir = await mkdtemp(join(tmpdir(), "tes-api-bench-"));
const redis = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
const prefix = uniquePrefix("api-bench");
const taskQueue = new BullMqTaskQueue({ connection: redis, prefix });
const server = await startTestServer({
  sqlitePath: join(dir, "tasks.db"),
  taskQueue,
  extraServices: [echoBinding],
  env: { MAX_CONCURRENT_STREAMS: "1000" },
});
const taskId = await createBenchTask(server.baseUrl);

process.on("message", (message) => {
  if (message === "cpu") process.send?.({ cpu: process.cpuUsage() });
});

serveUntilStopped({ port: server.port, taskId }, async () => {
  await server.close();
  await taskQueue.close();
  await removeQueues(redis, prefix);
  await rm(dir, { recursive: true, force: true });
});
