import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { loadLocalBackendConfig } from "../src/config/local-backend.js";
import { loadWorkerConfig } from "../src/config/worker.js";
import { ExecutorSchema, State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue } from "../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../src/redis/redis-address.js";
import { overrideStore } from "../src/service/testing/override-store.js";
import { SqliteTaskStore } from "../src/store/sqlite/sqlite-task-store.js";
import { ALL } from "../src/store/task-store.js";
import { queuedTask, removeQueues, TEST_REDIS_URL, uniquePrefix } from "../test/worker-support/harness.js";
import { LocalBackend } from "./backends/local/local-backend.js";
import { runPollCycle } from "./poll-cycle.js";
import { SubmitBatcher } from "./submit-batcher.js";
import { runSubmitJob } from "./submit-job.js";
import type { WorkerContext } from "./worker-context.js";

let dir: string;
let sqlite: SqliteTaskStore;
let backend: LocalBackend;
let queue: BullMqTaskQueue;
const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
const config = loadWorkerConfig({ QUEUE_PREFIX: uniquePrefix("poll-cycle") });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tes-poll-cycle-"));
  sqlite = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
  await sqlite.migrate();
  backend = new LocalBackend(loadLocalBackendConfig({ TES_DATA_DIR: dir, TES_CONTAINER_RUNTIME: "bwrap", TES_LOCAL_CPU_CORES: "3" }));
  queue = new BullMqTaskQueue({ connection, prefix: config.queue.prefix });
});

after(async () => {
  await backend.close();
  await queue.close();
  await removeQueues(connection, config.queue.prefix);
  await sqlite.close();
  await rm(dir, { recursive: true, force: true });
});

test("the poll cycle reads no task in full while nothing changes, and still records the change when its attempt ends", async () => {
  let fullReads = 0;
  const store = overrideStore(sqlite, {
    get: (id, scope) => {
      fullReads++;
      return sqlite.get(id, scope);
    },
    findStale: async (states, before, limit) => {
      const records = await sqlite.findStale(states, before, limit);
      fullReads += records.length;
      return records;
    },
  });
  const context: WorkerContext = {
    store,
    backend,
    queue,
    config,
    logger: pino({ level: "silent" }),
    submitter: new SubmitBatcher(backend, config.submitBatchSize, config.submitBatchWaitMs),
  };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const task = queuedTask();
    task.executors = [create(ExecutorSchema, { image: "alpine:3", command: ["sleep", "4"] })];
    await sqlite.insert(task, "");
    await runSubmitJob(context, task.id);
    ids.push(task.id);
  }
  const states = async () => Promise.all(ids.map(async (id) => (await sqlite.get(id, ALL))!));
  const until = async (what: string, done: (records: Awaited<ReturnType<typeof states>>) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const followed = (await states()).filter((r) => r.task.state === State.INITIALIZING || r.task.state === State.RUNNING).length;
      assert.equal(await runPollCycle(context), followed, "every followed task is polled");
      if (done(await states())) return;
      assert.ok(Date.now() < deadline, what);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  await until("the three attempts run within 30 s", (records) => records.every((r) => r.task.state === State.RUNNING));
  const versions = (await states()).map((r) => r.version);
  // One more cycle may read each task once, to learn that the running status changes nothing.
  await runPollCycle(context);
  fullReads = 0;
  for (let cycle = 0; cycle < 3; cycle++) {
    assert.equal(await runPollCycle(context), 3, "the three running tasks are polled");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(fullReads, 0, "no task read in full while their attempts kept running");
  assert.deepEqual((await states()).map((r) => r.version), versions, "and nothing written");

  await until("the attempts end within 30 s", (records) => records.every((r) => r.task.state === State.COMPLETE));
  assert.ok(fullReads >= 3, "each ending task is read to record its result");
  for (const record of await states()) assert.equal(record.task.logs.at(-1)?.logs[0]?.exitCode, 0);
});
