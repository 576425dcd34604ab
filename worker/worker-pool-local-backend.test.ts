import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { processesMentioning } from "../test/worker-support/processes.js";
import { create } from "@bufbuild/protobuf";
import { loadLocalBackendConfig } from "../src/config/local-backend.js";
import { loadWorkerConfig, type WorkerConfig } from "../src/config/worker.js";
import { ExecutorSchema, State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue } from "../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../src/redis/redis-address.js";
import { SqliteTaskStore } from "../src/store/sqlite/sqlite-task-store.js";
import { isTerminal } from "../src/store/task-states.js";
import { queuedTask, removeQueues, requestCancel, TEST_REDIS_URL, uniquePrefix, waitForTask } from "../test/worker-support/harness.js";
import type { ComputeBackend } from "./backends/compute-backend.js";
import { LocalBackend } from "./backends/local/local-backend.js";
import { startWorkerPool, type WorkerPool } from "./worker-pool.js";

describe("worker pool with the local backend (bwrap)", () => {
  let dir: string;
  let store: SqliteTaskStore;
  let backend: ComputeBackend;
  let queue: BullMqTaskQueue;
  let pool: WorkerPool;
  let config: WorkerConfig;
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-pool-local-"));
    store = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
    await store.migrate();
    backend = new LocalBackend(loadLocalBackendConfig({ TES_DATA_DIR: dir, TES_CONTAINER_RUNTIME: "bwrap" }));
    config = loadWorkerConfig({ QUEUE_PREFIX: uniquePrefix("pool-local"), WORKER_POLL_INTERVAL_MS: "100" });
    queue = new BullMqTaskQueue({ connection, prefix: config.queue.prefix });
    pool = await startWorkerPool({ store, connection, backend, config });
  });

  after(async () => {
    await pool.close();
    await backend.close();
    await queue.close();
    await removeQueues(connection, config.queue.prefix);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(commands: string[][]): Promise<string> {
    const task = queuedTask();
    task.executors = commands.map((command) => create(ExecutorSchema, { image: "alpine:3", command }));
    await store.insert(task, "");
    await queue.enqueueSubmit(task.id);
    return task.id;
  }

  test("executors run in order and the task completes with their logs", async () => {
    const id = await run([["sh", "-c", "echo one"], ["sh", "-c", "echo two >&2"]]);
    const done = await waitForTask(store, id, (r) => isTerminal(r.task.state), 30_000);
    assert.equal(State[done.task.state], "COMPLETE");
    const [log] = done.task.logs;
    assert.deepEqual(log!.logs.map((e) => [e.exitCode, e.stdout, e.stderr]), [[0, "one\n", ""], [0, "", "two\n"]]);
    assert.ok(log!.startTime !== "" && log!.endTime !== "");
  });

  test("a failing executor ends the task EXECUTOR_ERROR with its exit code", async () => {
    const id = await run([["sh", "-c", "exit 7"], ["sh", "-c", "echo never"]]);
    const done = await waitForTask(store, id, (r) => isTerminal(r.task.state), 30_000);
    assert.equal(State[done.task.state], "EXECUTOR_ERROR");
    assert.deepEqual(done.task.logs[0]!.logs.map((e) => e.exitCode), [7]);
  });

  test("cancel during a long executor ends CANCELED and leaves no process behind", async () => {
    const marker = `tes-cancel-${randomUUID()}`;
    const id = await run([["sh", "-c", `sleep 300; echo ${marker}`]]);
    await waitForTask(store, id, (r) => r.task.state === State.RUNNING, 30_000);
    assert.ok((await processesMentioning(marker)).length > 0);
    const asked = Date.now();
    await requestCancel(store, id);
    await queue.enqueueCancel(id);
    const done = await waitForTask(store, id, (r) => isTerminal(r.task.state), 10_000);
    assert.equal(State[done.task.state], "CANCELED");
    assert.ok(Date.now() - asked < 5000, `the cancel took ${Date.now() - asked} ms`);
    assert.deepEqual(await processesMentioning(marker), []);
  });
});
