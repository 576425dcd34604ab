import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { State } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue } from "../../src/queue/bullmq-task-queue.js";
import { CANCEL_QUEUE, SUBMIT_QUEUE } from "../../src/queue/queue-names.js";
import { findOnPath, startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis-server.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import { isTerminal } from "../../src/store/task-states.js";
import { queuedTask, requestCancel, uniquePrefix, waitForTask } from "../worker-support/harness.js";
import { readLog, readRuns } from "../worker-support/scripted-backend.js";
import { WorkerProcess } from "../worker-support/worker-processes.js";

/**
 * Faults with real processes: worker processes on a private redis-server (so FLUSHALL hurts no
 * other test) and one SQLite file, killed with SIGKILL, their Redis emptied, their jobs delivered
 * twice. Every task must end in the right terminal state, having started exactly the attempts
 * it should (the scripted backend's attempt directories).
 */
describe("worker pool faults (real worker processes)", () => {
  let dir: string;
  let redis: EmbeddedRedis;
  let store: SqliteTaskStore;
  let queue: BullMqTaskQueue;
  let env: Record<string, string>;
  let backendDir: string;
  const workers: WorkerProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-worker-faults-"));
    const executable = await findOnPath("redis-server", process.env.PATH);
    assert.ok(executable !== undefined, "the fault tests need redis-server on PATH (Debian redis-server)");
    redis = await startEmbeddedRedis({ executable, dataDir: join(dir, "private-redis"), startTimeoutMs: 10_000 });
  });

  beforeEach(async () => {
    // Each test has its own store and backend: workers sharing a store must share a backend.
    const dataDir = await mkdtemp(join(dir, "data-"));
    store = new SqliteTaskStore({ path: join(dataDir, "tes.sqlite"), busyTimeoutInMs: 10_000 });
    await store.migrate();
    backendDir = await mkdtemp(join(dir, "backend-"));
    env = {
      TES_DATA_DIR: dataDir,
      REDIS_URL: `redis://127.0.0.1:${redis.address.options.port}`,
      QUEUE_PREFIX: uniquePrefix("faults"),
      SCRIPTED_BACKEND_DIR: backendDir,
      WORKER_CONCURRENCY: "8",
      WORKER_POLL_INTERVAL_MS: "100",
      WORKER_SWEEP_INTERVAL_MS: "300",
      WORKER_STALE_AFTER_MS: "1000",
      WORKER_JOB_LOCK_MS: "2000",
      WORKER_JOB_BACKOFF_MS: "200",
    };
    queue = new BullMqTaskQueue({ connection: redis.address.options, prefix: env.QUEUE_PREFIX! });
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    await queue.close();
    await store.close();
  });

  after(async () => {
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function startWorker(): Promise<WorkerProcess> {
    const worker = await WorkerProcess.start(env);
    workers.push(worker);
    return worker;
  }

  async function createTasks(count: number, tags: Record<string, string>): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const task = queuedTask(tags);
      await store.insert(task, "");
      await queue.enqueueSubmit(task.id);
      ids.push(task.id);
    }
    return ids;
  }

  async function waitAllTerminal(ids: string[], timeoutMs = 30_000) {
    return Promise.all(ids.map((id) => waitForTask(store, id, (r) => isTerminal(r.task.state), timeoutMs)));
  }

  /** Each task started exactly `attempts` attempts, each once. */
  async function assertRanOnce(ids: string[], attempts = 1): Promise<void> {
    // An attempt id starts at most once by construction (the backend creates it with a rename);
    // what a fault could do wrong is start a second attempt, or none.
    const runs = await readRuns(backendDir);
    for (const id of ids) {
      const mine = runs.filter((run) => run.startsWith(`${id}-`)).sort();
      assert.deepEqual(mine, Array.from({ length: attempts }, (_, i) => `${id}-${i}`), `attempts of ${id}`);
    }
  }

  test("a worker killed with SIGKILL mid-submission and mid-task loses nothing and runs nothing twice", async () => {
    const doomed = await startWorker();
    const ids = await createTasks(40, { "script.duration_ms": "1500" });
    // Some submissions are in flight, some tasks run: kill -9 now.
    await waitForTask(store, ids[0]!, (r) => r.task.state !== State.QUEUED);
    await doomed.kill();
    const states = await Promise.all(ids.map(async (id) => (await store.get(id, { all: true }))!.task.state));
    assert.ok(states.some((state) => !isTerminal(state)), "the kill should hit tasks still in flight");

    await startWorker();
    const done = await waitAllTerminal(ids);
    for (const record of done) {
      assert.equal(State[record.task.state], "COMPLETE", `task ${record.task.id}: ${record.task.logs.flatMap((log) => log.systemLogs).join("; ")}`);
    }
    await assertRanOnce(ids);
  });

  test("Redis losing everything mid-flight (FLUSHALL) loses no task and no cancel", async () => {
    await startWorker();
    await startWorker();
    const ids = await createTasks(30, { "script.duration_ms": "1200" });
    const long = await createTasks(1, { "script.duration_ms": "60000" });
    await waitForTask(store, long[0]!, (r) => r.task.state === State.RUNNING);
    await requestCancel(store, long[0]!);
    await queue.enqueueCancel(long[0]!);
    // Jobs waiting, jobs active, the job schedulers and the cancel: all gone at once.
    const admin = new Redis({ ...redis.address.options, maxRetriesPerRequest: 1 });
    await admin.flushall();
    admin.disconnect();
    // And tasks created after the flush, while the schedulers are still missing.
    const later = await createTasks(5, { "script.duration_ms": "300" });

    const done = await waitAllTerminal([...ids, ...later, ...long]);
    const byId = new Map(done.map((r) => [r.task.id, State[r.task.state]]));
    for (const id of [...ids, ...later]) assert.equal(byId.get(id), "COMPLETE", `task ${id}`);
    assert.equal(byId.get(long[0]!), "CANCELED");
    assert.ok((await readLog(backendDir, "cancels.log")).includes(`${long[0]}-0`));
    await assertRanOnce([...ids, ...later, ...long]);
  });

  test("the same submit and cancel jobs delivered several times at once run each attempt once", async () => {
    await startWorker();
    await startWorker();
    const tasks = Array.from({ length: 20 }, () => queuedTask({ "script.duration_ms": "500" }));
    const canceled = Array.from({ length: 5 }, () => queuedTask({ "script.duration_ms": "60000" }));
    for (const task of [...tasks, ...canceled]) await store.insert(task, "");
    // Copies under other job ids, so BullMQ's de-duplication does not hide them: real duplicates.
    const submit = new Queue(SUBMIT_QUEUE, { connection: redis.address.options, prefix: env.QUEUE_PREFIX! });
    const cancel = new Queue(CANCEL_QUEUE, { connection: redis.address.options, prefix: env.QUEUE_PREFIX! });
    try {
      await submit.addBulk(
        [...tasks, ...canceled].flatMap((task) =>
          [1, 2, 3].map((copy) => ({ name: "submit", data: { taskId: task.id }, opts: { jobId: `${task.id}-copy${copy}`, removeOnComplete: true } })),
        ),
      );
      for (const task of canceled) await waitForTask(store, task.id, (r) => r.task.state === State.RUNNING);
      for (const task of canceled) await requestCancel(store, task.id);
      await cancel.addBulk(
        canceled.flatMap((task) =>
          [1, 2, 3].map((copy) => ({ name: "cancel", data: { taskId: task.id }, opts: { jobId: `${task.id}-copy${copy}`, removeOnComplete: true } })),
        ),
      );
      const done = await waitAllTerminal([...tasks, ...canceled].map((task) => task.id));
      const states = new Map(done.map((r) => [r.task.id, r.task.state]));
      for (const task of tasks) assert.equal(states.get(task.id), State.COMPLETE);
      for (const task of canceled) assert.equal(states.get(task.id), State.CANCELED);
      for (const record of done) assert.equal(record.task.logs.length, 1, "one attempt, one log entry");
      await assertRanOnce([...tasks, ...canceled].map((task) => task.id));
    } finally {
      await submit.close();
      await cancel.close();
    }
  });
});
