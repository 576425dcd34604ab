import assert from "node:assert/strict";
import { test } from "node:test";
import type pg from "pg";
import { State } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { PostgresViewReads, VIEW_READS_PER_STATEMENT, type ViewRow } from "./postgres-view-reads.js";

type Row = ViewRow & { n: string };

/** Statements as PostgreSQL would answer them from `stored` (id -> state, all at version 1), rows in reverse order; or failing with `fail`. */
function fakeDatabase(stored: Record<string, State>, fail?: (statement: number) => Error | undefined) {
  const statements: unknown[][] = [];
  const query = async (config: pg.QueryConfig): Promise<pg.QueryResult<Row>> => {
    const values = config.values as [string[], Array<string | null>, Array<number | null>];
    statements.push(values[0]);
    const error = fail?.(statements.length);
    if (error !== undefined) throw error;
    const rows: Row[] = [];
    values[0].forEach((id, index) => {
      const state = stored[id];
      // As the statement's CASE: no document when none was asked for (null) or the held version is the stored one.
      const held = values[2][index];
      if (state !== undefined) rows.push({ n: String(index + 1), state, version: 1, document: held === null || held === 1 ? null : Buffer.from(id) });
    });
    return { rows: rows.reverse() } as pg.QueryResult<Row>;
  };
  return { reads: new PostgresViewReads(query), statements };
}

test("the reads of one turn go in one statement, and each gets its own row, whatever order the rows come in", async () => {
  const { reads, statements } = fakeDatabase({ a: State.RUNNING, b: State.QUEUED });
  const answers = await Promise.all([reads.read("a", null, null), reads.read("missing", null, 0), reads.read("b", "alice", 1), reads.read("a", null, 0)]);
  assert.deepEqual(statements, [["a", "missing", "b", "a"]]);
  assert.deepEqual(answers, [
    { state: State.RUNNING, version: 1, document: null },
    undefined,
    { state: State.QUEUED, version: 1, document: null },
    { state: State.RUNNING, version: 1, document: Buffer.from("a") },
  ]);
});

test(`a turn of more than ${VIEW_READS_PER_STATEMENT} reads is split; a failed statement fails only the reads it carried`, async () => {
  const { reads, statements } = fakeDatabase({ a: State.COMPLETE }, (statement) => (statement === 2 ? new Error("canceling statement due to statement timeout") : undefined));
  const outcomes = await Promise.allSettled(Array.from({ length: VIEW_READS_PER_STATEMENT + 3 }, () => reads.read("a", null, 1)));
  assert.deepEqual(statements.map((ids) => ids.length), [VIEW_READS_PER_STATEMENT, 3]);
  assert.ok(outcomes.slice(0, VIEW_READS_PER_STATEMENT).every((outcome) => outcome.status === "fulfilled" && outcome.value?.state === State.COMPLETE));
  for (const outcome of outcomes.slice(VIEW_READS_PER_STATEMENT)) {
    assert.ok(outcome.status === "rejected" && /statement timeout/.test(String(outcome.reason)));
  }
});

test("flush sends what waits at once; the end of the turn then sends nothing more", async () => {
  const { reads, statements } = fakeDatabase({ a: State.QUEUED });
  const answer = reads.read("a", null, null);
  reads.flush();
  assert.equal(statements.length, 1);
  assert.equal((await answer)?.state, State.QUEUED);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(statements.length, 1);
});
