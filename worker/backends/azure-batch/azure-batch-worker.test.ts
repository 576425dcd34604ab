import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import type { ContainerClient } from "@azure/storage-blob";
import { loadWorkerConfig, type WorkerConfig } from "../../../src/config/worker.js";
import { ExecutorSchema, InputSchema, OutputSchema, ResourcesSchema, State, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { AZURITE_ACCOUNT, type Azurite } from "../../../filetransfer/test/support/azurite.js";
import { BullMqTaskQueue } from "../../../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../../../src/redis/redis-address.js";
import { SqliteTaskStore } from "../../../src/store/sqlite/sqlite-task-store.js";
import type { BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import { startAzureBatchStandIn, type AzureBatchStandIn } from "../../../test/support/azure-batch-stand-in.js";
import { queuedTask, removeQueues, requestCancel, TEST_REDIS_URL, uniquePrefix, waitForTask } from "../../../test/worker-support/harness.js";
import { startWorkerPool, type WorkerPool } from "../../worker-pool.js";
import type { AzureBatchBackend } from "./azure-batch-backend.js";
import { createAzureBatchBackend } from "./create-azure-batch-backend.js";

/**
 * The worker pool driving the Azure Batch backend against the Batch emulator, with the real node-side
 * runner (bwrap instead of docker) running each Batch task: what a TES task's states and logs become.
 */
const terminal = [State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.CANCELED, State.PREEMPTED];

describe("worker pool + Azure Batch backend + Batch emulator + runner", () => {
  let dir: string;
  let emulator: BatchEmulator;
  let store: SqliteTaskStore;
  let backend: AzureBatchBackend;
  let queue: BullMqTaskQueue;
  let pool: WorkerPool;
  let config: WorkerConfig;
  let azurite: Azurite;
  let container: ContainerClient;
  let sas: string;
  let httpUrl: string;
  let batch: AzureBatchStandIn;
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tes-batch-worker-"));
    batch = await startAzureBatchStandIn();
    ({ azurite, emulator, container, sas, httpUrl } = batch);
    store = new SqliteTaskStore({ path: path.join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
    await store.migrate();
    backend = await createAzureBatchBackend(batch.backendEnv);
    config = loadWorkerConfig({
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: uniquePrefix("batch"),
      WORKER_POLL_INTERVAL_MS: "200",
      WORKER_SWEEP_INTERVAL_MS: "1000",
      WORKER_STALE_AFTER_MS: "2000",
      WORKER_PREEMPTION_RETRIES: "1",
    });
    queue = new BullMqTaskQueue({ connection, prefix: config.queue.prefix });
    pool = await startWorkerPool({ store, connection, backend, config });
  });

  after(async () => {
    await pool.close();
    await queue.close();
    await removeQueues(connection, config.queue.prefix);
    await backend.close();
    await batch.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(commands: string[][], options: { preemptible?: boolean } = {}): Promise<string> {
    const task = clone(TaskSchema, queuedTask());
    task.executors = commands.map((command) => create(ExecutorSchema, { image: "alpine:3", command }));
    task.resources = create(ResourcesSchema, { cpuCores: 1, ...(options.preemptible === undefined ? {} : { preemptible: options.preemptible }) });
    await store.insert(task, "");
    await queue.enqueueSubmit(task.id);
    return task.id;
  }

  const ended = (id: string, timeoutMs = 60_000) => waitForTask(store, id, (r) => terminal.includes(r.task.state), timeoutMs);

  test("a task with two executors goes to COMPLETE with each executor's exit code and output", async () => {
    const id = await run([["sh", "-c", "echo first"], ["sh", "-c", "echo second >&2; exit 0"]]);
    const done = await ended(id);
    assert.equal(done.task.state, State.COMPLETE, JSON.stringify(done.task.logs.map((l) => l.systemLogs)));
    const log = done.task.logs[0]!;
    assert.deepEqual(log.logs.map((e) => e.exitCode), [0, 0]);
    assert.match(log.logs[0]!.stdout, /first/);
    assert.match(log.logs[1]!.stderr, /second/);
    // The Batch task was deleted once its result was read.
    await waitForBatchTasks(0, id);
  });

  test("inputs from blob storage and HTTP, two executors, outputs to blob storage: COMPLETE with full logs", async () => {
    const blobUrl = (name: string) => `http://${azurite.host}/${AZURITE_ACCOUNT}/tes/${name}?${sas}`;
    await container.getBlockBlobClient("in/greeting.txt").upload("hello\n", 6);
    const task = clone(TaskSchema, queuedTask());
    task.inputs = [
      create(InputSchema, { url: blobUrl("in/greeting.txt"), path: "/data/greeting.txt" }),
      create(InputSchema, { url: `${httpUrl}/words.txt`, path: "/data/words.txt" }),
    ];
    task.executors = [
      create(ExecutorSchema, { image: "alpine:3", command: ["sh", "-c", "cat /data/greeting.txt /data/words.txt > /out/joined.txt"] }),
      create(ExecutorSchema, { image: "alpine:3", command: ["sh", "-c", "wc -l < /out/joined.txt | tr -d ' ' > /out/count.txt; cat /out/count.txt"] }),
    ];
    task.outputs = [
      create(OutputSchema, { url: blobUrl("out/joined.txt"), path: "/out/joined.txt" }),
      create(OutputSchema, { url: blobUrl("out/count.txt"), path: "/out/count.txt" }),
    ];
    task.volumes = ["/out"];
    await store.insert(task, "");
    await queue.enqueueSubmit(task.id);
    const done = await ended(task.id);
    const log = done.task.logs[0]!;
    assert.equal(done.task.state, State.COMPLETE, JSON.stringify(log.systemLogs));
    assert.deepEqual(log.logs.map((e) => e.exitCode), [0, 0]);
    assert.equal(log.logs[1]!.stdout.trim(), "3");
    assert.ok(log.startTime !== "" && log.endTime !== "");
    const text = async (name: string) => (await container.getBlobClient(name).downloadToBuffer()).toString();
    assert.equal(await text("out/joined.txt"), "hello\napple\nbanana\n");
    assert.equal(await text("out/count.txt"), "3\n");
    const outputs = Object.fromEntries(log.outputs.map((o) => [o.path, o.sizeBytes]));
    assert.deepEqual(outputs, { "/out/joined.txt": 19n, "/out/count.txt": 2n });
    // No SAS signature in what the task's logs say.
    assert.ok(!JSON.stringify(log.systemLogs).includes("sig="));
  });

  test("a failing executor ends the task as EXECUTOR_ERROR", async () => {
    const id = await run([["sh", "-c", "exit 4"]]);
    const done = await ended(id);
    assert.equal(done.task.state, State.EXECUTOR_ERROR);
    assert.equal(done.task.logs[0]!.logs[0]!.exitCode, 4);
  });

  test("cancelling a running task terminates its Batch task and ends it CANCELED", async () => {
    const id = await run([["sh", "-c", "sleep 120"]]);
    await waitForTask(store, id, (r) => r.task.state === State.RUNNING, 60_000);
    await requestCancel(store, id);
    await queue.enqueueCancel(id);
    const done = await ended(id, 30_000);
    assert.equal(done.task.state, State.CANCELED);
  });

  test("a preempted task is retried on a new attempt, then ends PREEMPTED when preempted again", async () => {
    const id = await run([["sh", "-c", "sleep 120"]], { preemptible: true });
    for (const attempt of [1, 2]) {
      const running = await waitForTask(store, id, (r) => r.task.state === State.RUNNING && r.task.logs.length === attempt, 60_000);
      const [poolId] = (running.backendHandle ?? "").split("/");
      emulator.faults.preemptNode(poolId ?? "", { recoverAfterMs: 300 });
    }
    const done = await ended(id, 30_000);
    assert.equal(done.task.state, State.PREEMPTED);
    assert.equal(done.task.logs.length, 2);
    assert.match(done.task.logs[0]!.systemLogs.join("\n"), /preempted/);
  });

  test("a task blocked by the core quota stays QUEUED-side with the reason in its system logs, then runs when quota comes back", async () => {
    emulator.faults.setQuotas({ lowPriorityCores: 0 });
    // A VM size of its own, so its pool starts empty.
    const task = clone(TaskSchema, queuedTask());
    task.executors = [create(ExecutorSchema, { image: "alpine:3", command: ["sh", "-c", "echo after quota"] })];
    task.resources = create(ResourcesSchema, { cpuCores: 3, preemptible: true });
    await store.insert(task, "");
    await queue.enqueueSubmit(task.id);
    const blocked = await waitForTask(store, task.id, (r) => r.task.logs.some((l) => l.systemLogs.some((s) => /AccountLowPriorityCoreQuotaReached/.test(s))), 60_000);
    assert.ok(!terminal.includes(blocked.task.state));
    emulator.faults.setQuotas({ lowPriorityCores: 100 });
    const done = await ended(task.id);
    assert.equal(done.task.state, State.COMPLETE);
  });

  test("a storm of 429s (with Retry-After) and 503s on every Batch operation loses no task", async () => {
    // More throttled answers than one call's retry budget: some backend calls fail, and the worker
    // submits or polls again later; every task still ends COMPLETE, each run once.
    emulator.faults.http({ status: 429, retryAfterSeconds: 0, times: 40 });
    emulator.faults.http({ status: 503, times: 5 });
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => run([["sh", "-c", `echo storm ${i}`]])));
    for (const id of ids) {
      const done = await ended(id, 90_000);
      assert.equal(done.task.state, State.COMPLETE, `${id}: ${JSON.stringify(done.task.logs.map((l) => l.systemLogs))}`);
      assert.equal(done.task.logs.length, 1);
    }
    emulator.faults.clear();
  });

  async function waitForBatchTasks(count: number, tesId: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      let found = 0;
      for (const job of emulator.account.jobs.values()) for (const t of job.tasks.values()) if (t.id.startsWith(tesId)) found += 1;
      if (found === count) return;
      if (Date.now() > deadline) assert.fail(`expected ${count} Batch tasks of ${tesId}, found ${found}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
});
