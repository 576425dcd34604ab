import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { State, View } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { buildListSql } from "../list-sql.js";
import { ALL, ownedBy, type ListQuery, type Scope } from "../task-store.js";
import { PostgresTaskStore } from "./postgres-task-store.js";

/**
 * Listing must cost the same at a million tasks as at a thousand, so every list shape needs an
 * index that yields rows in id order from the cursor. On a small table the planner rightly prefers
 * a sequential scan and a sort, so these checks switch those off: if a plan still has a Seq Scan or
 * a Sort, no index can serve that shape, and it would grow with the table.
 */
const connectionString = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `tes_test_${process.pid}_${randomBytes(6).toString("hex")}`;
const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });

before(async () => {
  const store = new PostgresTaskStore({ connectionString, poolSize: 1, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 30_000 });
  await store.migrate();
  await store.close();
  await client.connect();
  await client.query("SET enable_seqscan = off");
  await client.query("SET enable_sort = off");
  await client.query("SET enable_bitmapscan = off");
});
after(async () => {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

async function plan(query: Partial<ListQuery>, scope: Scope, cursor: string | undefined, withDocument: boolean): Promise<string> {
  const sql = buildListSql({ pageSize: 256, view: View.MINIMAL, ...query }, scope, cursor, withDocument, (index) => `$${index}`);
  const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql.text}`, sql.values);
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}

const cursor = "01a2209c-b159-764a-bef8-51480a962b3f";
const shapes: Array<[name: string, query: Partial<ListQuery>, scope: Scope]> = [
  ["everything", {}, ALL],
  ["one owner", {}, ownedBy("alice")],
  ["a state", { state: State.RUNNING }, ALL],
  ["a state for one owner", { state: State.RUNNING }, ownedBy("alice")],
  ["a tag", { tags: [["project", "p1"]] }, ALL],
  ["a tag key", { tags: [["project", ""]] }, ownedBy("alice")],
  ["two tags and a state", { state: State.QUEUED, tags: [["project", "p1"], ["sample", "s1"]] }, ALL],
  ["a name prefix", { namePrefix: "align-" }, ownedBy("alice")],
];

for (const [name, query, scope] of shapes) {
  test(`PostgreSQL: listing ${name} has an index in id order, first page and deep pages alike`, async () => {
    for (const at of [undefined, cursor]) {
      for (const withDocument of [false, true]) {
        const text = await plan(query, scope, at, withDocument);
        assert.doesNotMatch(text, /Seq Scan/, text);
        assert.doesNotMatch(text, /\bSort\b/, text);
        // Rows come in id order from the tasks indexes, or in task_id order from task_tags' (key, value, task_id).
        assert.match(text, /Index (Only )?Scan( Backward)? using \w+ on (tasks|task_tags)\b/, text);
      }
    }
  });
}
