import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { after, test } from "node:test";
import pg from "pg";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { State, TaskSchema, View, type Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { SchemaTooNewError } from "../migration.js";
import { ALL, ownedBy } from "../task-store.js";
import { defineTaskStoreConformanceTests } from "../task-store-conformance.js";
import type { TaskStoreTuning } from "../task-store-tuning.js";
import { PostgresTaskStore } from "./postgres-task-store.js";

/**
 * Runs the conformance suite against a real PostgreSQL: TEST_DATABASE_URL, by default the one CI
 * starts on loopback. Each test gets its own schema, dropped afterwards. No PostgreSQL: the tests
 * fail (a connection error), they are never skipped.
 */
const connectionString = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const admin = new pg.Pool({ connectionString, max: 2 });

/** A schema name no other test uses; migrate() creates it. */
function uniqueSchema(): string {
  return `tes_test_${process.pid}_${randomBytes(6).toString("hex")}`;
}

function storeIn(schema: string, tuning: TaskStoreTuning & { poolSize?: number } = {}): PostgresTaskStore {
  return new PostgresTaskStore({ connectionString, poolSize: 4, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 30_000, ...tuning });
}

async function dropSchema(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

defineTaskStoreConformanceTests({
  name: "PostgreSQL",
  async createDatabase() {
    const schema = uniqueSchema();
    return {
      async openStore(tuning) {
        return storeIn(schema, tuning);
      },
      async drop() {
        await dropSchema(schema);
      },
    };
  },
});

/** A migrated store in a schema of its own, dropped after `use`. */
async function withStore(options: { poolSize?: number }, use: (store: PostgresTaskStore, schema: string) => Promise<void>): Promise<void> {
  const schema = uniqueSchema();
  const store = storeIn(schema, options);
  try {
    await store.migrate();
    await use(store, schema);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

test("PostgreSQL: a schema migrated by a newer server is refused with SchemaTooNewError", async () => {
  await withStore({ poolSize: 1 }, async (store, schema) => {
    await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (999, 'from the future')`);
    await assert.rejects(store.migrate(), SchemaTooNewError);
  });
});

/** A task as CreateTask stores it. */
function queuedTask(name: string): Task {
  return create(TaskSchema, { id: uuidv7(), state: State.QUEUED, name, creationTime: new Date().toISOString(), tags: { name } });
}

test("PostgreSQL: a task PostgreSQL refuses (U+0000 in text) fails alone; the rest of its group commit is stored", async () => {
  await withStore({}, async (store) => {
    const tasks = Array.from({ length: 10 }, (_, index) => queuedTask(index === 4 ? "bad\u0000name" : `t${index}`));
    const outcomes = await Promise.allSettled(tasks.map((task) => store.insert(task, "")));
    assert.deepEqual(outcomes.map((outcome) => outcome.status), tasks.map((_, index) => (index === 4 ? "rejected" : "fulfilled")));
    assert.equal(await store.get(tasks[4]!.id, ALL), undefined);
    for (const [index, task] of tasks.entries()) if (index !== 4) assert.equal((await store.get(task.id, ALL))?.task.name, task.name);
  });
});

test("PostgreSQL: more GetTasks in one turn than one statement reads each get their own answer", async () => {
  await withStore({}, async (store) => {
    const tasks = Array.from({ length: 3 }, (_, index) => queuedTask(`t${index}`));
    for (const task of tasks) await store.insert(task, "alice");
    // Over VIEW_READS_PER_STATEMENT (512), round robin over the tasks, every view and scope.
    const asked = Array.from({ length: 700 }, (_, index) => ({
      task: tasks[index % 3]!,
      view: [View.MINIMAL, View.BASIC, View.FULL][index % 3]!,
      owner: index % 7 === 0 ? "bob" : "alice",
    }));
    const answers = await Promise.all(asked.map(({ task, view, owner }) => store.getView(task.id, ownedBy(owner), view)));
    answers.forEach((answer, index) => {
      const { task, owner } = asked[index]!;
      assert.equal(answer?.id, owner === "bob" ? undefined : task.id, `read ${index}`);
    });
  });
});

// Registered after the suite's own hook, which drops the schemas through `admin`.
after(async () => {
  await admin.end();
});
