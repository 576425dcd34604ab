import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { State, TaskSchema, View, type Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { TaskExistsError } from "../store-errors.js";
import { defineTaskStoreConformanceTests } from "../task-store-conformance.js";
import { ALL } from "../task-store.js";
import { SqliteTaskStore } from "./sqlite-task-store.js";

defineTaskStoreConformanceTests({
  name: "SQLite",
  async createDatabase() {
    const dir = mkdtempSync(join(tmpdir(), "tes-sqlite-store-"));
    const path = join(dir, "tes.sqlite");
    return {
      async openStore() {
        return new SqliteTaskStore({ path, busyTimeoutInMs: 5000 });
      },
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

/** A task as CreateTask stores it. */
function queuedTask(name: string, id: string = uuidv7()): Task {
  return create(TaskSchema, { id, state: State.QUEUED, name, creationTime: new Date().toISOString(), tags: { name } });
}

test("SQLite: a burst larger than insertBatchMax is written in several transactions, all of it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tes-sqlite-store-"));
  const store = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000, insertBatchMax: 7 });
  try {
    await store.migrate();
    const tasks = Array.from({ length: 50 }, (_, index) => queuedTask(`t${index}`));
    const repeat = queuedTask("repeat", tasks[3]!.id);
    const outcomes = await Promise.allSettled([...tasks, repeat].map((task) => store.insert(task, "")));
    assert.deepEqual(outcomes.slice(0, 50).map((outcome) => outcome.status), Array(50).fill("fulfilled"));
    assert.ok(outcomes[50]?.status === "rejected" && outcomes[50].reason instanceof TaskExistsError);
    assert.equal((await store.list({ pageSize: 100, view: View.MINIMAL }, ALL)).tasks.length, 50);
    assert.equal((await store.get(tasks[3]!.id, ALL))?.task.name, "t3");
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SQLite: inserts still waiting for their group commit are written by close, not dropped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tes-sqlite-store-"));
  const path = join(dir, "tes.sqlite");
  const store = new SqliteTaskStore({ path, busyTimeoutInMs: 5000 });
  try {
    await store.migrate();
    const tasks = Array.from({ length: 5 }, (_, index) => queuedTask(`t${index}`));
    const inserting = Promise.all(tasks.map((task) => store.insert(task, "")));
    await store.close();
    await inserting;
    const reopened = new SqliteTaskStore({ path, busyTimeoutInMs: 5000 });
    try {
      for (const task of tasks) assert.equal((await reopened.get(task.id, ALL))?.task.name, task.name);
    } finally {
      await reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SQLite: insertBatchMax must be a positive integer", () => {
  assert.throws(() => new SqliteTaskStore({ path: ":memory:", busyTimeoutInMs: 5000, insertBatchMax: 0 }), /insertBatchMax must be a positive integer, got 0/);
});
