import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { loadStoreConfig } from "../config/store.js";
import { State, TaskSchema } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { openTaskStore } from "./open-task-store.js";
import { PostgresTaskStore } from "./postgres/postgres-task-store.js";
import { SqliteTaskStore } from "./sqlite/sqlite-task-store.js";
import { ALL } from "./task-store.js";

const task = () => create(TaskSchema, { id: uuidv7(), state: State.QUEUED, name: "t", creationTime: new Date().toISOString() });

test("without DATABASE_URL it opens a migrated SQLite store in TES_DATA_DIR", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tes-open-store-"));
  try {
    const store = await openTaskStore(loadStoreConfig({ TES_DATA_DIR: join(dir, "nested", "data") }));
    try {
      assert.ok(store instanceof SqliteTaskStore);
      const stored = task();
      await store.insert(stored, "");
      assert.equal((await store.get(stored.id, ALL))?.task.id, stored.id);
      assert.ok(existsSync(join(dir, "nested", "data", "tes.sqlite")));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with DATABASE_URL it opens a migrated PostgreSQL store in TES_DATABASE_SCHEMA", async () => {
  const url = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `tes_test_open_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const store = await openTaskStore(loadStoreConfig({ DATABASE_URL: url, TES_DATABASE_SCHEMA: schema, TES_DATABASE_POOL_SIZE: "2" }));
    try {
      assert.ok(store instanceof PostgresTaskStore);
      const stored = task();
      await store.insert(stored, "");
      assert.equal((await store.get(stored.id, ALL))?.task.id, stored.id);
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = 'tasks'", [schema]);
      assert.equal(rows[0].n, 1);
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});
