import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { SchemaTooNewError } from "../migration.js";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";
import { SqliteTaskStore } from "./sqlite-task-store.js";

const dir = mkdtempSync(join(tmpdir(), "tes-sqlite-migrations-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const storeModule = fileURLToPath(new URL("./sqlite-task-store.ts", import.meta.url));

/** Runs migrate() in a separate node process, as a second server or worker would. */
function migrateInChildProcess(path: string): Promise<{ code: number | null; stderr: string }> {
  const script = `
    const { SqliteTaskStore } = await import(${JSON.stringify(storeModule)});
    const store = new SqliteTaskStore({ path: ${JSON.stringify(path)}, busyTimeoutInMs: 20000 });
    await store.migrate();
    await store.close();
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}

test("processes migrating one new SQLite file at the same time apply each step exactly once", async () => {
  const path = join(dir, "concurrent.sqlite");
  const results = await Promise.all([1, 2, 3, 4].map(() => migrateInChildProcess(path)));
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  const db = new Database(path, { readonly: true });
  try {
    const versions = db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all();
    assert.deepEqual(versions, SQLITE_MIGRATIONS.map((migration) => migration.version));
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
  } finally {
    db.close();
  }
});

test("a database migrated by a newer server is refused with SchemaTooNewError", async () => {
  const path = join(dir, "newer.sqlite");
  const store = new SqliteTaskStore({ path, busyTimeoutInMs: 1000 });
  try {
    await store.migrate();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)").run();
    db.close();
    await assert.rejects(store.migrate(), SchemaTooNewError);
  } finally {
    await store.close();
  }
});
