import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { clone } from "@bufbuild/protobuf";
import { Queue } from "bullmq";
import { pino } from "pino";
import { loadWorkerConfig } from "../src/config/worker.js";
import { State, TaskSchema } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue } from "../src/queue/bullmq-task-queue.js";
import { CANCEL_QUEUE, SUBMIT_QUEUE } from "../src/queue/queue-names.js";
import { redisAddressFromUrl } from "../src/redis/redis-address.js";
import { SqliteTaskStore } from "../src/store/sqlite/sqlite-task-store.js";
import { queuedTask, removeQueues, TEST_REDIS_URL, uniquePrefix } from "../test/worker-support/harness.js";
import { runRecoverySweep } from "./recovery-sweep.js";
import type { WorkerContext } from "./worker-context.js";

const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
const config = loadWorkerConfig({ QUEUE_PREFIX: uniquePrefix("sweep"), WORKER_STALE_AFTER_MS: "0" });
let store: SqliteTaskStore;
let queue: BullMqTaskQueue;
const queues: Queue[] = [];

before(async () => {
  store = new SqliteTaskStore({ path: ":memory:", busyTimeoutInMs: 1000 });
  await store.migrate();
  queue = new BullMqTaskQueue({ connection, prefix: config.queue.prefix });
});

after(async () => {
  await Promise.all([queue.close(), ...queues.map((q) => q.close())]);
  await removeQueues(connection, config.queue.prefix);
  await store.close();
});

test("jobs the recovery sweep puts back carry each task's stored trace context, so they join the task's own trace", async () => {
  const traced = queuedTask();
  const untraced = queuedTask();
  const canceling = queuedTask();
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  await store.insert(traced, "", traceparent);
  await store.insert(untraced, "");
  await store.insert(canceling, "", traceparent.replace("00f067aa", "11f067aa"));
  const cancel = clone(TaskSchema, canceling);
  cancel.state = State.CANCELING;
  await store.update(canceling.id, 1, { task: cancel });
  await new Promise((resolve) => setTimeout(resolve, 5));

  const context = { store, queue, config, logger: pino({ level: "silent" }) } as unknown as WorkerContext;
  assert.deepEqual(await runRecoverySweep(context), { submits: 2, cancels: 1 });

  const submit = new Queue(SUBMIT_QUEUE, { connection, prefix: config.queue.prefix });
  const cancelQueue = new Queue(CANCEL_QUEUE, { connection, prefix: config.queue.prefix });
  queues.push(submit, cancelQueue);
  assert.deepEqual((await submit.getJob(traced.id))?.data, { taskId: traced.id, traceContext: { traceparent } });
  assert.deepEqual((await submit.getJob(untraced.id))?.data, { taskId: untraced.id }, "an untraced task's job carries its id only");
  assert.deepEqual((await cancelQueue.getJob(canceling.id))?.data, {
    taskId: canceling.id,
    traceContext: { traceparent: traceparent.replace("00f067aa", "11f067aa") },
  });
});
