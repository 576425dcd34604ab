import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Queue } from "bullmq";
import { loadWorkerConfig, type WorkerConfig } from "../../src/config/worker.js";

import { BullMqTaskQueue } from "../../src/queue/bullmq-task-queue.js";
import { tasksOfJob } from "../../src/queue/job-data.js";
import { SUBMIT_QUEUE } from "../../src/queue/queue-names.js";
import { redisAddressFromUrl } from "../../src/redis/redis-address.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import type { Attempt, AttemptStatus, ComputeBackend, SubmitOutcome } from "../../worker/backends/compute-backend.js";
import { startWorkerPool } from "../../worker/worker-pool.js";
import { queuedTask, removeQueues, TEST_REDIS_URL, uniquePrefix, waitForTask } from "../worker-support/harness.js";

/** A backend whose submissions wait until `open()`: a job that outlives a shutdown deadline. */
class GatedBackend implements ComputeBackend {
  readonly capabilities = { name: "gated", backendParameters: [], storage: [] };
  readonly submitted: string[] = [];
  private gate: Promise<void>;
  private openGate!: () => void;
  constructor(open: boolean) {
    this.gate = open ? Promise.resolve() : new Promise((resolve) => (this.openGate = resolve));
  }
  open(): void {
    this.openGate?.();
  }
  async submit(attempts: readonly Attempt[]): Promise<SubmitOutcome[]> {
    this.submitted.push(...attempts.map((a) => a.attemptId));
    await this.gate;
    return attempts.map((a) => ({ kind: "submitted", handle: `h-${a.attemptId}` }));
  }
  async poll(handles: readonly string[]): Promise<AttemptStatus[]> {
    return handles.map(() => ({ phase: "running" }));
  }
  async cancel(): Promise<void> {}
  async release(): Promise<void> {}
  async close(): Promise<void> {}
}

describe("worker pool shutdown with a deadline (BullMQ on Redis, SQLite)", () => {
  let dir: string;
  let store: SqliteTaskStore;
  let config: WorkerConfig;
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-pool-shutdown-"));
    store = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
    await store.migrate();
    config = loadWorkerConfig({
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: uniquePrefix("pool-shutdown"),
      WORKER_POLL_INTERVAL_MS: "100",
      WORKER_SWEEP_INTERVAL_MS: "60000",
      WORKER_STALE_AFTER_MS: "60000",
      WORKER_JOB_LOCK_MS: "30000",
      WORKER_SUBMIT_BATCH_WAIT_MS: "0",
    });
  });

  after(async () => {
    await removeQueues(connection, config.queue.prefix);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("a job still running at the deadline goes back to the queue at once, and another worker finishes it", async () => {
    const stuck = new GatedBackend(false);
    const first = await startWorkerPool({ store, connection, backend: stuck, config });
    const task = queuedTask();
    await store.insert(task, "");
    const queue = new BullMqTaskQueue({ connection, prefix: config.queue.prefix });
    await queue.enqueueSubmit(task.id);
    const deadline = Date.now() + 10_000;
    while (stuck.submitted.length === 0) {
      assert.ok(Date.now() < deadline, "the submit job starts");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const started = Date.now();
    await first.close(300);
    const took = Date.now() - started;
    assert.ok(took < 3000, `close(300) returns soon after its deadline (took ${took} ms), not after the job`);
    const inspect = new Queue(SUBMIT_QUEUE, { connection, prefix: config.queue.prefix });
    const waiting = await inspect.getJobs(["waiting"]);
    assert.ok(
      waiting.some((job) => tasksOfJob(job.data).some((carried) => carried.taskId === task.id)),
      "the job is back in the queue, not locked as active",
    );
    await inspect.close();

    // Another worker takes it at once: no lock to wait out (WORKER_JOB_LOCK_MS is 30 s here).
    const healthy = new GatedBackend(true);
    const second = await startWorkerPool({ store, connection, backend: healthy, config });
    const record = await waitForTask(store, task.id, (r) => r.backendHandle !== "", 10_000);
    assert.equal(record.backendHandle, `h-${task.id}-0`);
    assert.deepEqual(healthy.submitted, [`${task.id}-0`], "the same attempt id, submitted again: the backend answers with its handle");
    // The first pool's job, cut off mid-call, finds the task taken over and changes nothing.
    stuck.open();
    await second.close(1000);
    await queue.close();
  });
});
