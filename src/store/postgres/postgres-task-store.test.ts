import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { after, test } from "node:test";
import pg from "pg";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { State, TaskSchema, View, type Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { SchemaTooNewError } from "../migration.js";
import { TaskExistsError } from "../store-errors.js";
import { ALL } from "../task-store.js";
import { defineTaskStoreConformanceTests } from "../task-store-conformance.js";
import { PostgresTaskStore } from "./postgres-task-store.js";

/**
 * Runs the conformance suite against a real PostgreSQL: TEST_DATABASE_URL, by default the one CI
 * starts on loopback. Each test gets its own schema, dropped afterwards. No PostgreSQL: the tests
 * fail (a connection error), they are never skipped.
 */
const connectionString = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const admin = new pg.Pool({ connectionString, max: 2 });

defineTaskStoreConformanceTests({
  name: "PostgreSQL",
  async createDatabase() {
    const schema = `tes_test_${process.pid}_${randomBytes(6).toString("hex")}`;
    return {
      async openStore() {
        return new PostgresTaskStore({ connectionString, poolSize: 4, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 30_000 });
      },
      async drop() {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    };
  },
});

test("PostgreSQL: a schema migrated by a newer server is refused with SchemaTooNewError", async () => {
  const schema = `tes_test_${process.pid}_${randomBytes(6).toString("hex")}`;
  const store = new PostgresTaskStore({ connectionString, poolSize: 1, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 30_000 });
  try {
    await store.migrate();
    await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (999, 'from the future')`);
    await assert.rejects(store.migrate(), SchemaTooNewError);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

/** A task as CreateTask stores it. */
function queuedTask(name: string, id: string = uuidv7()): Task {
  return create(TaskSchema, { id, state: State.QUEUED, name, creationTime: new Date().toISOString(), tags: { name } });
}

/** A migrated store in a schema of its own, dropped after `use`. */
async function withStore(options: { insertBatchMax?: number }, use: (store: PostgresTaskStore) => Promise<void>): Promise<void> {
  const schema = `tes_test_${process.pid}_${randomBytes(6).toString("hex")}`;
  const store = new PostgresTaskStore({ connectionString, poolSize: 4, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 30_000, ...options });
  try {
    await store.migrate();
    await use(store);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

test("PostgreSQL: a burst larger than insertBatchMax goes in several statements, all of it; a repeated id is refused", async () => {
  await withStore({ insertBatchMax: 7 }, async (store) => {
    const tasks = Array.from({ length: 50 }, (_, index) => queuedTask(`t${index}`));
    const repeat = queuedTask("repeat", tasks[3]!.id);
    const outcomes = await Promise.allSettled([...tasks, repeat].map((task) => store.insert(task, "")));
    assert.deepEqual(outcomes.slice(0, 50).map((outcome) => outcome.status), Array(50).fill("fulfilled"));
    assert.ok(outcomes[50]?.status === "rejected" && outcomes[50].reason instanceof TaskExistsError);
    assert.equal((await store.list({ pageSize: 100, view: View.MINIMAL }, ALL)).tasks.length, 50);
    assert.equal((await store.get(tasks[3]!.id, ALL))?.task.name, "t3");
    assert.equal((await store.list({ pageSize: 10, view: View.MINIMAL, tags: [["name", "repeat"]] }, ALL)).tasks.length, 0);
  });
});

test("PostgreSQL: a task PostgreSQL refuses (U+0000 in text) fails alone; the rest of its group commit is stored", async () => {
  await withStore({}, async (store) => {
    const tasks = Array.from({ length: 10 }, (_, index) => queuedTask(index === 4 ? "bad\u0000name" : `t${index}`));
    const outcomes = await Promise.allSettled(tasks.map((task) => store.insert(task, "")));
    assert.deepEqual(outcomes.map((outcome) => outcome.status), tasks.map((_, index) => (index === 4 ? "rejected" : "fulfilled")));
    assert.equal(await store.get(tasks[4]!.id, ALL), undefined);
    for (const [index, task] of tasks.entries()) if (index !== 4) assert.equal((await store.get(task.id, ALL))?.task.name, task.name);
  });
});

test("PostgreSQL: inserts still waiting for their group commit are written by close, not dropped", async () => {
  const schema = `tes_test_${process.pid}_${randomBytes(6).toString("hex")}`;
  const open = () => new PostgresTaskStore({ connectionString, poolSize: 4, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 30_000 });
  const store = open();
  try {
    await store.migrate();
    const tasks = Array.from({ length: 5 }, (_, index) => queuedTask(`t${index}`));
    const inserting = Promise.all(tasks.map((task) => store.insert(task, "")));
    await store.close();
    await inserting;
    const reopened = open();
    try {
      for (const task of tasks) assert.equal((await reopened.get(task.id, ALL))?.task.name, task.name);
    } finally {
      await reopened.close();
    }
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

// Registered after the suite's own hook, which drops the schemas through `admin`.
after(async () => {
  await admin.end();
});
