import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clone } from "@bufbuild/protobuf";
import { loadLimitsConfig } from "../../../src/config/limits.js";
import { State, TaskSchema, type Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue, SUBMIT_JOB_TASKS_MAX } from "../../../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../../../src/redis/redis-address.js";
import { readTesJson } from "../../../src/rest/json-reader.js";
import { newTaskId } from "../../../src/service/task-id.js";
import { validateTask } from "../../../src/service/validate-task.js";
import { SqliteTaskStore } from "../../../src/store/sqlite/sqlite-task-store.js";
import { encodeTask } from "../../../src/store/task-document.js";
import { removeQueues, TEST_REDIS_URL, uniquePrefix } from "../../worker-support/harness.js";
import type { Figure } from "../bench-result.js";

/** Calls of each part per burst: as many as the API bench keeps in flight. */
const BURST = 32;

/**
 * CreateTask's parts one by one, in this process, each as CPU microseconds per task: reading the
 * JSON body, validating, encoding the document, the SQLite insert (group commit of a burst) and the
 * BullMQ enqueue (one job per SUBMIT_JOB_TASKS_MAX tasks, on the real Redis: what the API bench's
 * CreateTasks fill within the enqueue window; a smaller burst would wait out the window each time,
 * and run cold). They show where CreateTask's cost over the echo goes; each runs for `seconds`.
 */
export async function measureCreateTaskParts(body: string, seconds: number): Promise<Record<string, Figure>> {
  const limits = loadLimitsConfig({});
  const parsed = (): Task => readTesJson(TaskSchema, JSON.parse(body)) as Task;
  const stored = (): Task => {
    const task = parsed();
    Object.assign(task, { id: newTaskId(), state: State.QUEUED, creationTime: new Date().toISOString() });
    return task;
  };
  const template = stored();
  const figures: Record<string, Figure> = {};
  const perTask = async (name: string, burst: () => Promise<unknown>, tasksPerBurst = BURST) => {
    const deadline = performance.now() + seconds * 1000;
    await burst();
    const before = process.cpuUsage();
    let tasks = 0;
    while (performance.now() < deadline) {
      await burst();
      tasks += tasksPerBurst;
    }
    const used = process.cpuUsage(before);
    figures[`createTaskParts.${name}.cpuUs`] = { value: Math.round(((used.user + used.system) / tasks) * 10) / 10, unit: "us/task" };
  };
  const sync = (fn: () => unknown) => async () => {
    for (let i = 0; i < BURST; i++) fn();
  };

  await perTask("readJson", sync(parsed));
  await perTask("validate", sync(() => validateTask(template, limits)));
  await perTask("encode", sync(() => encodeTask(template)));

  const dir = await mkdtemp(join(tmpdir(), "tes-create-parts-"));
  const store = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
  try {
    await store.migrate();
    // insert encodes the document itself (the encode part above), then waits for the group commit.
    const tasks = Array.from({ length: BURST }, () => clone(TaskSchema, template));
    await perTask("sqliteInsertWithEncode", () =>
      Promise.all(tasks.map((task) => ((task.id = newTaskId()), store.insert(task, "")))),
    );
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }

  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
  const prefix = uniquePrefix("api-bench-parts");
  const queue = new BullMqTaskQueue({ connection, prefix });
  try {
    await perTask(
      "bullmqEnqueue",
      () => Promise.all(Array.from({ length: SUBMIT_JOB_TASKS_MAX }, () => queue.enqueueSubmit(newTaskId()))),
      SUBMIT_JOB_TASKS_MAX,
    );
  } finally {
    await queue.close();
    await removeQueues(connection, prefix);
  }
  return figures;
}
