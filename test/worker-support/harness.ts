import { clone, create } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import type { RedisOptions } from "../../src/redis/redis-address.js";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { ALL, type TaskRecord, type TaskStore } from "../../src/store/task-store.js";

/** The Redis the tests use: REDIS_URL, else the one CI starts on 127.0.0.1:6379. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A QUEUED task as CreateTask stores it, following a scripted-backend script given in tags. */
export function queuedTask(tags: Record<string, string> = {}, fields: Partial<Pick<Task, "name">> = {}): Task {
  return create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    name: fields.name ?? "worker test",
    creationTime: new Date().toISOString(),
    executors: [create(ExecutorSchema, { image: "alpine", command: ["true"] })],
    resources: create(ResourcesSchema, { cpuCores: 1 }),
    tags,
  });
}

/** Polls the store until `predicate` holds for the task, or fails after `timeoutMs`. */
export async function waitForTask(
  store: TaskStore,
  id: string,
  predicate: (record: TaskRecord) => boolean,
  timeoutMs = 10_000,
): Promise<TaskRecord> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskRecord | undefined;
  while (Date.now() < deadline) {
    last = await store.get(id, ALL);
    if (last !== undefined && predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`task ${id} did not reach the expected condition within ${timeoutMs} ms; last state ${last === undefined ? "missing" : State[last.task.state]}`);
}

/** What CancelTask does: CANCELING by compare-and-set (the API's handler is tested on its own). */
export async function requestCancel(store: TaskStore, id: string): Promise<void> {
  for (;;) {
    const record = await store.get(id, ALL);
    if (record === undefined) throw new Error(`no task ${id}`);
    const task = clone(TaskSchema, record.task);
    task.state = State.CANCELING;
    if ((await store.update(id, record.version, { task })) !== undefined) return;
  }
}

export function uniquePrefix(label: string): string {
  return `test-${label}-${process.pid}-${Date.now().toString(36)}`;
}

/** Deletes every key under `prefix` (the queues, their schedulers), so tests leave the shared Redis clean. */
export async function removeQueues(connection: RedisOptions, prefix: string): Promise<void> {
  const redis = new Redis({ ...connection, maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
