import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { processesMentioning } from "../worker-support/processes.js";
import { create } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import { ExecutorSchema, OutputSchema, State } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue } from "../../src/queue/bullmq-task-queue.js";
import { Redis } from "ioredis";
import { findOnPath, startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis-server.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import { isTerminal } from "../../src/store/task-states.js";
import { queuedTask, uniquePrefix, waitForTask } from "../worker-support/harness.js";
import { WorkerProcess } from "../worker-support/worker-processes.js";

/**
 * The real thing: worker processes with the local backend (bwrap sandboxes). A worker killed with
 * SIGKILL while its task's executor runs takes its sandbox with it; another worker finds the
 * attempt orphaned, retries it as a new attempt, and the task completes once, with both attempts
 * in its logs and no process of the first attempt left behind. Redis emptied while tasks run
 * loses none of them. A private redis-server keeps FLUSHALL from hurting other tests.
 */
describe("worker pool faults with the local backend (real worker processes, bwrap)", () => {
  let dir: string;
  let store: SqliteTaskStore;
  let queue: BullMqTaskQueue;
  let env: Record<string, string>;
  let redis: EmbeddedRedis;
  const workers: WorkerProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-local-faults-"));
    const executable = await findOnPath("redis-server", process.env.PATH);
    assert.ok(executable !== undefined, "these tests need redis-server on PATH (Debian redis-server)");
    redis = await startEmbeddedRedis({ executable, dataDir: join(dir, "private-redis"), startTimeoutMs: 10_000 });
    env = {
      TES_DATA_DIR: join(dir, "data"),
      TES_BACKEND: "local",
      TES_CONTAINER_RUNTIME: "bwrap",
      TES_ALLOWED_DIRS: join(dir, "outputs"),
      REDIS_URL: `redis://127.0.0.1:${redis.address.options.port}`,
      QUEUE_PREFIX: uniquePrefix("local-faults"),
      WORKER_POLL_INTERVAL_MS: "100",
      WORKER_SWEEP_INTERVAL_MS: "500",
      WORKER_STALE_AFTER_MS: "1000",
      WORKER_JOB_LOCK_MS: "2000",
    };
    store = new SqliteTaskStore({ path: join(dir, "data", "tes.sqlite"), busyTimeoutInMs: 10_000 });
    await store.migrate();
    queue = new BullMqTaskQueue({ connection: redis.address.options, prefix: env.QUEUE_PREFIX! });
  });

  after(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await queue.close();
    await store.close();
    await redis.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("a worker killed mid-executor: the attempt is retried elsewhere, the task completes, nothing is left running", async () => {
    const first = await WorkerProcess.start(env, "cli");
    workers.push(first);
    const marker = `tes-fault-${randomUUID()}`;
    const task = queuedTask();
    task.executors = [
      create(ExecutorSchema, {
        image: "alpine:3",
        command: ["sh", "-c", `echo started; sleep 3; echo ${marker} > /out/result.txt`],
      }),
    ];
    task.outputs = [create(OutputSchema, { path: "/out/result.txt", url: `file://${join(dir, "outputs", "result.txt")}` })];
    await store.insert(task, "");
    await queue.enqueueSubmit(task.id);

    await waitForTask(store, task.id, (r) => r.task.state === State.RUNNING, 20_000);
    assert.ok((await processesMentioning(marker)).length > 0, "the executor runs before the kill");
    await first.kill();
    // The sandbox dies with its worker (bwrap --die-with-parent).
    await waitUntil(async () => (await processesMentioning(marker)).length === 0, 5000);

    workers.push(await WorkerProcess.start(env, "cli"));
    const done = await waitForTask(store, task.id, (r) => isTerminal(r.task.state), 30_000);
    assert.equal(State[done.task.state], "COMPLETE", done.task.logs.flatMap((log) => log.systemLogs).join("; "));
    assert.equal(done.task.logs.length, 2, "the interrupted attempt and its retry");
    assert.match(done.task.logs[0]!.systemLogs.join("\n"), /preempted/);
    assert.equal(done.task.logs[1]!.logs.length, 1);
    assert.equal(done.task.logs[1]!.logs[0]!.exitCode, 0);
    assert.equal((await readFile(join(dir, "outputs", "result.txt"), "utf8")).trim(), marker);
    assert.deepEqual(await processesMentioning(marker), []);
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  test("Redis losing everything while tasks run: every task still completes, each in one attempt", async () => {
    workers.push(await WorkerProcess.start(env, "cli"));
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const task = queuedTask();
      task.executors = [create(ExecutorSchema, { image: "alpine:3", command: ["sh", "-c", `sleep 1; echo task ${i}`] })];
      await store.insert(task, "");
      await queue.enqueueSubmit(task.id);
      ids.push(task.id);
    }
    await waitForTask(store, ids[0]!, (r) => r.task.state === State.RUNNING, 20_000);
    const admin = new Redis({ ...redis.address.options, maxRetriesPerRequest: 1 });
    await admin.flushall();
    admin.disconnect();

    for (const [i, id] of ids.entries()) {
      const done = await waitForTask(store, id, (r) => isTerminal(r.task.state), 60_000);
      assert.equal(State[done.task.state], "COMPLETE", done.task.logs.flatMap((log) => log.systemLogs).join("; "));
      assert.equal(done.task.logs.length, 1, "one attempt");
      assert.deepEqual(done.task.logs[0]!.logs.map((e) => [e.exitCode, e.stdout]), [[0, `task ${i}\n`]]);
    }
  });
});


async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
