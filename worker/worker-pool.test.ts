import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadWorkerConfig, type WorkerConfig } from "../src/config/worker.js";
import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { Queue } from "bullmq";
import { pino } from "pino";
import { BullMqTaskQueue } from "../src/queue/bullmq-task-queue.js";
import { SUBMIT_QUEUE } from "../src/queue/queue-names.js";
import { redisAddressFromUrl } from "../src/redis/redis-address.js";
import { SqliteTaskStore } from "../src/store/sqlite/sqlite-task-store.js";
import { ALL } from "../src/store/task-store.js";
import { queuedTask, removeQueues, requestCancel, TEST_REDIS_URL, uniquePrefix, waitForTask } from "../test/worker-support/harness.js";
import { readLog, readRuns, ScriptedBackend } from "../test/worker-support/scripted-backend.js";
import { startWorkerPool, type WorkerPool } from "./worker-pool.js";

const terminal = (record: { task: { state: State } }) =>
  [State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.CANCELED, State.PREEMPTED].includes(record.task.state);

describe("worker pool (BullMQ on Redis, SQLite store, a scripted backend)", () => {
  let dir: string;
  let store: SqliteTaskStore;
  let backend: ScriptedBackend;
  let queue: BullMqTaskQueue;
  let pool: WorkerPool;
  let config: WorkerConfig;
  const warnings: Array<{ msg: string; jobId?: string }> = [];
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-worker-pool-"));
    store = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
    await store.migrate();
    backend = await ScriptedBackend.create(join(dir, "backend"));
    config = loadWorkerConfig({
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: uniquePrefix("pool"),
      WORKER_POLL_INTERVAL_MS: "100",
      WORKER_SWEEP_INTERVAL_MS: "200",
      WORKER_STALE_AFTER_MS: "400",
      WORKER_PREEMPTION_RETRIES: "1",
      // Long enough that concurrent submit jobs share backend calls even on a busy machine.
      WORKER_SUBMIT_BATCH_WAIT_MS: "50",
    });
    queue = new BullMqTaskQueue({ connection, prefix: config.queue.prefix });
    pool = await startWorkerPool({ store, connection, backend, config, logger: pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line)) }) });
  });

  after(async () => {
    await pool.close();
    await queue.close();
    await removeQueues(connection, config.queue.prefix);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(tags: Record<string, string>, options: { enqueue?: boolean } = {}) {
    const task = queuedTask(tags);
    await store.insert(task, "");
    if (options.enqueue ?? true) await queue.enqueueSubmit(task.id);
    return task.id;
  }

  test("a task goes through INITIALIZING and RUNNING to COMPLETE, with the backend's results in its log", async () => {
    const id = await run({ "script.duration_ms": "600" });
    await waitForTask(store, id, (r) => r.task.state === State.INITIALIZING || r.task.state === State.RUNNING);
    await waitForTask(store, id, (r) => r.task.state === State.RUNNING);
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.COMPLETE);
    assert.equal(done.task.logs.length, 1);
    const log = done.task.logs[0]!;
    assert.ok(log.startTime !== "" && log.endTime !== "");
    assert.equal(log.logs.length, 1);
    assert.equal(log.logs[0]!.exitCode, 0);
    assert.equal(log.logs[0]!.stdout, `out of ${id}-0\n`);
    assert.deepEqual(
      log.outputs.map((o) => [o.url, o.path, o.sizeBytes]),
      [["file:///tmp/out.txt", "/out/out.txt", 42n]],
    );
    assert.equal(log.metadata.handle, `${id}-0`);
    assert.equal(done.backendHandle, `${id}-0`);
    assert.deepEqual(
      (await readRuns(backend["root"])).filter((run) => run.startsWith(id)),
      [`${id}-0`],
    );
    // The attempt is released once its result is stored.
    await waitFor(async () => (await readLog(backend["root"], "released.log")).includes(`${id}-0`));
  });

  test("a failing executor gives EXECUTOR_ERROR with its exit code; a node failure gives SYSTEM_ERROR with the reason", async () => {
    const failing = await run({ "script.outcome": "executor_error", "script.exit_code": "3" });
    const broken = await run({ "script.outcome": "system_error" });
    const failed = await waitForTask(store, failing, terminal);
    assert.equal(failed.task.state, State.EXECUTOR_ERROR);
    assert.equal(failed.task.logs[0]!.logs[0]!.exitCode, 3);
    const errored = await waitForTask(store, broken, terminal);
    assert.equal(errored.task.state, State.SYSTEM_ERROR);
    assert.deepEqual(errored.task.logs[0]!.systemLogs, ["the scripted node failed"]);
  });

  test("a rejected submission ends SYSTEM_ERROR with the backend's reason", async () => {
    const id = await run({ "script.reject": "no VM size has 4096 cores" });
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.SYSTEM_ERROR);
    assert.deepEqual(done.task.logs[0]!.systemLogs, ["the backend rejected the task: no VM size has 4096 cores"]);
    assert.equal(done.backendHandle, "");
  });

  test("a blocked submission stays QUEUED saying why, once, and is retried until it runs", async () => {
    const id = await run({ "script.blocked_times": "3" });
    const waiting = await waitForTask(store, id, (r) => r.task.logs[0]?.systemLogs.length === 1);
    assert.equal(waiting.task.state, State.QUEUED);
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.COMPLETE);
    assert.deepEqual(done.task.logs[0]!.systemLogs, ["waiting for the backend: no capacity in the scripted pool"]);
    assert.equal(done.task.logs.length, 1);
  });

  test("a preempted attempt is retried as a new log entry, then PREEMPTED when no retries are left", async () => {
    const retried = await run({ "script.preempt_attempts": "1" });
    const exhausted = await run({ "script.preempt_attempts": "5" });
    const done = await waitForTask(store, retried, terminal);
    assert.equal(done.task.state, State.COMPLETE);
    assert.equal(done.task.logs.length, 2);
    assert.match(done.task.logs[0]!.systemLogs.join("\n"), /attempt 1 was preempted \(the scripted node was reclaimed\); retrying/);
    assert.ok(done.task.logs[0]!.endTime !== "");
    assert.equal(done.backendHandle, `${retried}-1`);

    const gaveUp = await waitForTask(store, exhausted, terminal);
    assert.equal(gaveUp.task.state, State.PREEMPTED);
    assert.equal(gaveUp.task.logs.length, 2);
    assert.match(gaveUp.task.logs[1]!.systemLogs.at(-1)!, /attempt 2 was preempted .*no retries left after 1/);
    const runs = await readRuns(backend["root"]);
    assert.deepEqual(runs.filter((run) => run.startsWith(exhausted)), [`${exhausted}-0`, `${exhausted}-1`]);
  });

  test("an attempt the backend no longer knows ends SYSTEM_ERROR", async () => {
    const id = await run({ "script.forget": "true" });
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.SYSTEM_ERROR);
    assert.match(done.task.logs[0]!.systemLogs.join(), /the backend lost the attempt: no attempt/);
  });

  test("cancelling a running task stops its attempt and ends CANCELED", async () => {
    const id = await run({ "script.duration_ms": "60000" });
    await waitForTask(store, id, (r) => r.task.state === State.RUNNING);
    await requestCancel(store, id);
    await queue.enqueueCancel(id);
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.CANCELED);
    assert.ok(done.task.logs[0]!.endTime !== "");
    assert.ok((await readLog(backend["root"], "cancels.log")).includes(`${id}-0`));
    assert.ok((await readLog(backend["root"], "released.log")).includes(`${id}-0`));
  });

  test("a CANCELING task whose cancel job was lost is finished by the sweep", async () => {
    const id = await run({ "script.duration_ms": "60000" });
    await waitForTask(store, id, (r) => r.task.state === State.RUNNING);
    await requestCancel(store, id); // and no cancel job: the API died, or Redis lost it
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.CANCELED);
    assert.ok((await readLog(backend["root"], "cancels.log")).includes(`${id}-0`));
  });

  test("a task stored but never enqueued is found by the recovery sweep and runs once", async () => {
    const id = await run({}, { enqueue: false });
    const done = await waitForTask(store, id, terminal);
    assert.equal(done.task.state, State.COMPLETE);
    assert.deepEqual((await readRuns(backend["root"])).filter((run) => run.startsWith(id)), [`${id}-0`]);
  });

  test("enqueuing the same task many times submits one attempt", async () => {
    const task = queuedTask({});
    await store.insert(task, "");
    await Promise.all(Array.from({ length: 10 }, () => queue.enqueueSubmit(task.id)));
    const done = await waitForTask(store, task.id, terminal);
    assert.equal(done.task.state, State.COMPLETE);
    // Enqueued again after it ended: the job runs, finds the task COMPLETE, and does nothing.
    await queue.enqueueSubmit(task.id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual((await readRuns(backend["root"])).filter((run) => run.startsWith(task.id)), [`${task.id}-0`]);
    assert.equal((await store.get(task.id, ALL))!.version, done.version);
  });

  test("tasks enqueued together share a submit job; one whose store read fails does not hold up the others, and each runs one attempt", async () => {
    const tasks = Array.from({ length: 10 }, () => queuedTask({}));
    for (const task of tasks) await store.insert(task, "");
    const flaky = tasks[3]!.id;
    let flakyReads = 0;
    const get = store.get.bind(store);
    store.get = async (id, scope) => {
      if (id === flaky && flakyReads++ === 0) throw new Error("the store is away for a moment");
      return get(id, scope);
    };
    try {
      await Promise.all(tasks.map((task) => queue.enqueueSubmit(task.id)));
      for (const task of tasks) assert.equal((await waitForTask(store, task.id, terminal)).task.state, State.COMPLETE);
    } finally {
      delete (store as Partial<SqliteTaskStore>).get;
    }
    assert.ok(flakyReads >= 2, "the task whose read failed was read again (its job retried, or the sweep)");
    const runs = await readRuns(backend["root"]);
    for (const task of tasks) assert.deepEqual(runs.filter((run) => run.startsWith(task.id)), [`${task.id}-0`]);
  });

  test("a job that carries no task id is dropped, said in the log, and not retried", async () => {
    const submit = new Queue(SUBMIT_QUEUE, { connection, prefix: config.queue.prefix });
    try {
      const job = await submit.add("submit", { task: "not an id" } as never, { attempts: 3, removeOnComplete: true, removeOnFail: false });
      await waitFor(async () => warnings.some((warning) => warning.jobId === job.id && warning.msg === "dropped a job that carries no task id"));
      await waitFor(async () => (await submit.getJob(job.id!)) === undefined);
      assert.equal(warnings.filter((warning) => warning.jobId === job.id).length, 1, "said once, never retried");
    } finally {
      await submit.close();
    }
  });

  test("the backend receives only the backend_parameters it accepts, in its own spelling", async () => {
    const task = queuedTask({});
    task.resources!.backendParameters = { VM_SIZE: "Standard_D2s_v3", priority: "low", unknown_key: "dropped" };
    await store.insert(task, "");
    await queue.enqueueSubmit(task.id);
    await waitForTask(store, task.id, terminal);
    const attempt = JSON.parse(await readFile(join(dir, "backend", "attempts", `${task.id}-0`, "attempt.json"), "utf8"));
    assert.deepEqual(attempt.backendParameters, { vm_size: "Standard_D2s_v3", Priority: "low" });
    // The stored task keeps what the client sent.
    assert.deepEqual((await store.get(task.id, ALL))!.task.resources!.backendParameters, task.resources!.backendParameters);
  });

  test("many tasks are submitted and polled in bulk, and reach COMPLETE", async () => {
    backend.calls.length = 0;
    const ids = await Promise.all(Array.from({ length: 40 }, () => run({ "script.duration_ms": "2000" })));
    for (const id of ids) assert.equal((await waitForTask(store, id, terminal)).task.state, State.COMPLETE);
    const largestSubmit = Math.max(...backend.calls.filter((c) => c.method === "submit").map((c) => c.count));
    const largestPoll = Math.max(...backend.calls.filter((c) => c.method === "poll").map((c) => c.count));
    assert.ok(largestSubmit > 1, `submissions were never batched (largest ${largestSubmit})`);
    assert.ok(largestPoll >= 20, `polls were not in bulk (largest ${largestPoll})`);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
