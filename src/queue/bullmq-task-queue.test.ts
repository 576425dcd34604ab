import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { Queue } from "bullmq";
import { redisAddressFromUrl } from "../redis/redis-address.js";
import { removeQueues, TEST_REDIS_URL, uniquePrefix } from "../../test/worker-support/harness.js";
import { BullMqTaskQueue, QueueUnavailableError } from "./bullmq-task-queue.js";
import { tasksOfJob } from "./job-data.js";
import { CANCEL_QUEUE, SUBMIT_QUEUE } from "./queue-names.js";

describe("BullMqTaskQueue", () => {
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
  const prefix = uniquePrefix("queue");
  let queue: BullMqTaskQueue;
  let submit: Queue;
  let cancel: Queue;

  before(() => {
    queue = new BullMqTaskQueue({ connection, prefix });
    submit = new Queue(SUBMIT_QUEUE, { connection, prefix });
    cancel = new Queue(CANCEL_QUEUE, { connection, prefix });
  });
  after(async () => {
    await Promise.all([queue.close(), submit.close(), cancel.close()]);
    await removeQueues(connection, prefix);
    await removeQueues(connection, `${prefix}-other`);
  });

  test("the sweep's submit jobs carry the task id only, under the task id, once however often it is enqueued", async () => {
    await queue.enqueueSubmitMany(["0190-a"]);
    await queue.enqueueSubmitMany(["0190-a", "0190-b"]);
    const jobs = await submit.getJobs(["waiting"]);
    assert.deepEqual(jobs.map((job) => [job.id, job.data]).sort(), [
      ["0190-a", { taskId: "0190-a" }],
      ["0190-b", { taskId: "0190-b" }],
    ]);
  });

  test("cancel jobs have their own queue, so a cancel never waits behind submissions", async () => {
    await queue.enqueueCancel("0190-a");
    await queue.enqueueCancelMany(["0190-a", "0190-c"]);
    const jobs = await cancel.getJobs(["waiting"]);
    assert.deepEqual(jobs.map((job) => job.id).sort(), ["0190-a", "0190-c"]);
  });

  test("a task can be enqueued again once its earlier job is gone", async () => {
    const job = await submit.getJob("0190-b");
    await job!.remove();
    await queue.enqueueSubmitMany(["0190-b"]);
    assert.deepEqual((await submit.getJob("0190-b"))?.data, { taskId: "0190-b" });
  });

  test("keeps its keys under the configured prefix", async () => {
    const other = new Queue(SUBMIT_QUEUE, { connection, prefix: `${prefix}-other` });
    try {
      assert.equal(await other.count(), 0);
      assert.equal(await submit.count(), 2);
    } finally {
      await other.close();
    }
  });

  test("250 submits enqueued in one turn share three jobs (at most 100 tasks each), each resolving once its job is in Redis", async () => {
    const ids = Array.from({ length: 250 }, (_, index) => `0191-burst-${index}`);
    const before = new Set((await submit.getJobs(["waiting"])).map((job) => job.id));
    const carrying = async (id: string) => (await submit.getJobs(["waiting"])).find((job) => tasksOfJob(job.data).some((task) => task.taskId === id));
    await Promise.all(ids.map(async (id) => {
      await queue.enqueueSubmit(id);
      assert.ok(await carrying(id), `${id} is in Redis once its enqueue resolved`);
    }));
    const added = (await submit.getJobs(["waiting"])).filter((job) => !before.has(job.id));
    assert.deepEqual(added.map((job) => tasksOfJob(job.data).length).sort((a, b) => a - b), [50, 100, 100]);
    assert.deepEqual(added.flatMap((job) => tasksOfJob(job.data).map((task) => task.taskId)).sort(), [...ids].sort(), "each task once");
    assert.ok(added.every((job) => job.name === "submit-batch" && Object.keys(job.data).join() === "tasks"), "untraced, the job carries task ids only");
    for (const job of added) await job.remove();
  });

  test("cancels enqueued together get a job each under the task id, once", async () => {
    await Promise.all(["0192-a", "0192-b", "0192-a"].map((id) => queue.enqueueCancel(id)));
    for (const id of ["0192-a", "0192-b"]) assert.deepEqual((await cancel.getJob(id))?.data, { taskId: id });
  });

  test("fails within its timeout, saying so, when Redis does not answer", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const away = new BullMqTaskQueue({ connection: { host: "127.0.0.1", port }, prefix, enqueueTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(away.enqueueSubmit("0190-z"), QueueUnavailableError);
    assert.ok(Date.now() - started < 2000);
    // A burst shares one addBulk, and each of its enqueues fails on its own promise.
    const burst = await Promise.allSettled(["0190-x", "0190-y"].map((id) => away.enqueueSubmit(id)));
    assert.deepEqual(burst.map((outcome) => outcome.status === "rejected" && outcome.reason instanceof QueueUnavailableError), [true, true]);
    await away.close();
  });
});
