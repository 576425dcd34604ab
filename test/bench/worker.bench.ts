import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BullMqTaskQueue } from "../../src/queue/bullmq-task-queue.js";
import { redisAddressFromUrl } from "../../src/redis/redis-address.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import { TERMINAL_STATES } from "../../src/store/task-states.js";
import { ALL, type TaskStore } from "../../src/store/task-store.js";
import { removeQueues, TEST_REDIS_URL, uniquePrefix } from "../worker-support/harness.js";
import { WorkerProcess } from "../worker-support/worker-processes.js";
import type { BenchFunction, Figure } from "./bench-result.js";

const CREATE_CONCURRENCY = 32;
const NOT_DONE = [State.QUEUED, State.INITIALIZING, State.RUNNING, State.CANCELING];
const IDLE_SAMPLES = 20;

/**
 * Worker throughput, end to end on this host: BENCH_WORKER_TASKS (default 2000) one-executor `true`
 * tasks are created the way CreateTask does (store insert, then enqueue; 32 at a time) while one
 * worker process (`npm run worker`: TES_BACKEND=local, bwrap sandboxes, default settings) runs them.
 * Reported: tasks/s from the first create to the last COMPLETE, next to the rate at which the same
 * tasks are only created (no worker), and the p50/p95 delay from creation_time to the first
 * executor's start_time (tasks wait for the host's cores: TES_LOCAL_CPU_CORES, one per task), and
 * the same delay for 20 tasks created one at a time on the idle worker. Redis: REDIS_URL or
 * 127.0.0.1:6379, under a unique prefix.
 */
export const bench: BenchFunction = async ({ log }) => {
  const count = Number(process.env.BENCH_WORKER_TASKS ?? 2000);
  if (!Number.isInteger(count) || count < 10) throw new Error("BENCH_WORKER_TASKS must be an integer >= 10");
  const dir = await mkdtemp(join(tmpdir(), "tes-worker-bench-"));
  const connection = redisAddressFromUrl(new URL(TEST_REDIS_URL)).options;
  const prefixes: string[] = [];
  const figures: Record<string, Figure> = {};
  try {
    // 1. Create only: the ceiling that the API side alone puts on the rate.
    {
      const prefix = uniquePrefix("bench-create");
      prefixes.push(prefix);
      const store = new SqliteTaskStore({ path: join(dir, "create-only", "tes.sqlite"), busyTimeoutInMs: 10_000 });
      await store.migrate();
      const queue = new BullMqTaskQueue({ connection, prefix });
      log(`creating ${count} tasks with no worker`);
      const started = performance.now();
      await createTasks(store, queue, count);
      const seconds = (performance.now() - started) / 1000;
      figures["createOnly.tasksPerSecond"] = { value: round(count / seconds), unit: "tasks/s" };
      await queue.close();
      await store.close();
    }

    // 2. Create to COMPLETE, with one worker process running them in bwrap sandboxes.
    const prefix = uniquePrefix("bench-worker");
    prefixes.push(prefix);
    const dataDir = join(dir, "end-to-end");
    const store = new SqliteTaskStore({ path: join(dataDir, "tes.sqlite"), busyTimeoutInMs: 10_000 });
    await store.migrate();
    const queue = new BullMqTaskQueue({ connection, prefix });
    const worker = await WorkerProcess.start({
      TES_DATA_DIR: dataDir,
      TES_BACKEND: "local",
      TES_CONTAINER_RUNTIME: "bwrap",
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
    }, "cli");
    try {
      log(`creating ${count} tasks for a worker process (local backend, bwrap)`);
      const started = performance.now();
      await createTasks(store, queue, count);
      const createdSeconds = (performance.now() - started) / 1000;
      figures["endToEnd.createTasksPerSecond"] = { value: round(count / createdSeconds), unit: "tasks/s" };
      // Cheap check (one row) every 200 ms; a full count for the progress line every 10 s.
      let lastLog = performance.now();
      while ((await store.findStale(NOT_DONE, new Date(Date.now() + 86_400_000), 1)).length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        if (performance.now() - lastLog > 10_000) {
          const remaining = (await store.findStale(NOT_DONE, new Date(Date.now() + 86_400_000), count)).length;
          log(`${count - remaining} of ${count} ended after ${((performance.now() - started) / 1000).toFixed(1)} s`);
          lastLog = performance.now();
        }
        if (performance.now() - started > 30 * 60_000) throw new Error("tasks still not ended after 30 minutes");
      }
      const seconds = (performance.now() - started) / 1000;
      const ended = await store.findStale(TERMINAL_STATES, new Date(Date.now() + 86_400_000), count);
      const notComplete = ended.filter((record) => record.task.state !== State.COMPLETE);
      if (notComplete.length > 0) {
        const sample = notComplete[0]!.task;
        throw new Error(
          `${notComplete.length} tasks did not complete; one is ${State[sample.state]}: ${sample.logs.flatMap((l) => l.systemLogs).join("; ")}`,
        );
      }
      const delays = ended
        .map((record) => Date.parse(record.task.logs[0]?.logs[0]?.startTime ?? "") - Date.parse(record.task.creationTime))
        .filter((delay) => Number.isFinite(delay))
        .sort((a, b) => a - b);
      figures["endToEnd.tasksPerSecond"] = { value: round(count / seconds), unit: "tasks/s" };
      figures["endToEnd.seconds"] = { value: round(seconds), unit: "s" };
      figures["createToFirstExecutorStart.p50"] = { value: percentile(delays, 0.5), unit: "ms" };
      figures["createToFirstExecutorStart.p95"] = { value: percentile(delays, 0.95), unit: "ms" };
      figures["tasks"] = { value: count, unit: "tasks" };

      // 3. The same path with nothing else waiting: one task at a time, create to first executor start.
      const idle: number[] = [];
      for (let i = 0; i < IDLE_SAMPLES; i++) {
        const task = oneExecutorTrue();
        await store.insert(task, "");
        await queue.enqueueSubmit(task.id);
        const done = await waitUntilEnded(store, task.id);
        const start = Date.parse(done.logs[0]?.logs[0]?.startTime ?? "");
        if (Number.isFinite(start)) idle.push(start - Date.parse(task.creationTime));
      }
      idle.sort((a, b) => a - b);
      figures["idle.createToFirstExecutorStart.p50"] = { value: percentile(idle, 0.5), unit: "ms" };
      figures["idle.createToFirstExecutorStart.p95"] = { value: percentile(idle, 0.95), unit: "ms" };
    } finally {
      await worker.stop();
      await queue.close();
      await store.close();
    }
    return {
      figures,
      ratios: {
        "endToEnd/createOnly": {
          value: figures["endToEnd.tasksPerSecond"]!.value / figures["createOnly.tasksPerSecond"]!.value,
          of: ["endToEnd.tasksPerSecond", "createOnly.tasksPerSecond"],
        },
      },
    };
  } finally {
    for (const prefix of prefixes) await removeQueues(connection, prefix);
    await rm(dir, { recursive: true, force: true });
  }
};

function oneExecutorTrue(): Task {
  return create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    name: "bench",
    creationTime: new Date().toISOString(),
    executors: [create(ExecutorSchema, { image: "alpine:3", command: ["true"] })],
    resources: create(ResourcesSchema, { cpuCores: 1 }),
  });
}

/** What CreateTask does after validation, CREATE_CONCURRENCY at a time. */
async function createTasks(store: TaskStore, queue: BullMqTaskQueue, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        const task = oneExecutorTrue();
        task.creationTime = new Date().toISOString();
        await store.insert(task, "");
        await queue.enqueueSubmit(task.id);
      }
    }),
  );
}

async function waitUntilEnded(store: TaskStore, id: string): Promise<Task> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const record = await store.get(id, ALL);
    if (record !== undefined && TERMINAL_STATES.includes(record.task.state)) return record.task;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${id} did not end within 60 s`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
