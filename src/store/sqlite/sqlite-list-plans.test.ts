import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { State, View } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { buildListSql } from "../list-sql.js";
import { ALL, ownedBy, type ListQuery, type Scope } from "../task-store.js";
import { SqliteTaskStore } from "./sqlite-task-store.js";

/**
 * Listing must cost the same at a million tasks as at a thousand: every list shape walks an index
 * in id order from the cursor and stops after one page. A full table scan or a sort of all matches
 * ("USE TEMP B-TREE FOR ORDER BY") would grow with the table, so the plans are checked here, where
 * a regression shows at once, rather than only in the benchmark.
 */
const dir = mkdtempSync(join(tmpdir(), "tes-sqlite-plans-"));
const path = join(dir, "tes.sqlite");
let db: Database.Database;

before(async () => {
  const store = new SqliteTaskStore({ path, busyTimeoutInMs: 1000 });
  await store.migrate();
  await store.close();
  db = new Database(path, { readonly: true });
});
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function plan(query: Partial<ListQuery>, scope: Scope, cursor: string | undefined, withDocument = false): string[] {
  const sql = buildListSql({ pageSize: 256, view: View.MINIMAL, ...query }, scope, cursor, withDocument, () => "?");
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql.text}`).all(...sql.values) as Array<{ detail: string }>;
  return rows.map((row) => row.detail);
}

const cursor = "01a2209c-b159-764a-bef8-51480a962b3f";
const shapes: Array<[name: string, query: Partial<ListQuery>, scope: Scope, index: RegExp]> = [
  ["everything", {}, ALL, /USING (COVERING )?INDEX sqlite_autoindex_tasks_1/],
  ["one owner", {}, ownedBy("alice"), /USING (COVERING )?INDEX tasks_owner_id/],
  ["a state", { state: State.RUNNING }, ALL, /USING (COVERING )?INDEX tasks_state_id/],
  ["a state for one owner", { state: State.RUNNING }, ownedBy("alice"), /USING (COVERING )?INDEX tasks_owner_state_id/],
  // Each tag is then one indexed probe per task walked (task_tags' key or its (key, value, task_id) index).
  ["a tag", { tags: [["project", "p1"]] }, ALL, /INDEX sqlite_autoindex_tasks_1.*\nSEARCH g EXISTS USING/s],
  ["a tag key", { tags: [["project", ""]] }, ownedBy("alice"), /INDEX tasks_owner_id.*\nSEARCH g EXISTS USING/s],
  ["two tags", { tags: [["project", "p1"], ["sample", "s1"]] }, ALL, /INDEX sqlite_autoindex_tasks_1.*\nSEARCH g EXISTS USING.*\nSEARCH g EXISTS USING/s],
];

for (const [name, query, scope, index] of shapes) {
  test(`listing ${name} walks an index in id order, first page and deep pages alike`, () => {
    for (const at of [undefined, cursor]) {
      for (const withDocument of [false, true]) {
        const lines = plan(query, scope, at, withDocument);
        const text = lines.join("\n");
        assert.doesNotMatch(text, /TEMP B-TREE/, text);
        assert.ok(!lines.some((line) => /^SCAN t$/.test(line)), `a full table scan:\n${text}`);
        assert.match(text, index, text);
      }
    }
  });
}

test("listing by name prefix uses an index, never a plain table scan", () => {
  for (const scope of [ALL, ownedBy("alice")]) {
    for (const at of [undefined, cursor]) {
      const lines = plan({ namePrefix: "align-" }, scope, at);
      assert.ok(!lines.some((line) => /^SCAN t$/.test(line)), lines.join("\n"));
      assert.match(lines.join("\n"), /INDEX/);
    }
  }
});

test("the recovery sweep reads the (state, updated_at) index", () => {
  const lines = db
    .prepare("EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE state IN (?, ?) AND updated_at < ? ORDER BY updated_at LIMIT ?")
    .all(1, 2, 0, 10) as Array<{ detail: string }>;
  assert.match(lines.map((line) => line.detail).join("\n"), /tasks_state_updated_at/);
});
