import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { after, test } from "node:test";
import pg from "pg";
import { SchemaTooNewError } from "../migration.js";
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

// Registered after the suite's own hook, which drops the schemas through `admin`.
after(async () => {
  await admin.end();
});
