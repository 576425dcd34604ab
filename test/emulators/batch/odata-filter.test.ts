import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BatchError } from "./batch-error.js";
import { taskFilter } from "./list-query.js";
import { compileFilter } from "./odata-filter.js";
import type { TaskRecord } from "./account-model.js";

// The $filter subset of shared/notes/AZURE-BATCH.md §3 "Task List $filter" ([ODATA]).
function task(fields: { id: string; state: TaskRecord["state"]; exitCode?: number; result?: "success" | "failure"; at?: string }): TaskRecord {
  const at = new Date(fields.at ?? "2026-01-01T00:00:00Z");
  return {
    id: fields.id,
    state: fields.state,
    stateTransitionTime: at,
    creationTime: at,
    lastModified: at,
    execution: { retryCount: 0, requeueCount: 0, ...(fields.exitCode === undefined ? {} : { exitCode: fields.exitCode }), ...(fields.result === undefined ? {} : { result: fields.result }) },
  } as TaskRecord;
}

const tasks = [
  task({ id: "tes-A-0", state: "completed", exitCode: 0, result: "success", at: "2026-01-01T00:00:10Z" }),
  task({ id: "tes-b-0", state: "completed", exitCode: 2, result: "failure", at: "2026-01-01T00:00:20Z" }),
  task({ id: "tes-c-0", state: "running", at: "2026-01-01T00:00:30Z" }),
  task({ id: "other", state: "active" }),
];

const ids = (filter: string) => tasks.filter(compileFilter(filter, taskFilter)).map((t) => t.id);

describe("$filter on tasks", () => {
  test("the documented properties and operators", () => {
    assert.deepEqual(ids("state eq 'completed'"), ["tes-A-0", "tes-b-0"]);
    assert.deepEqual(ids("state ne 'completed'"), ["tes-c-0", "other"]);
    assert.deepEqual(ids("startswith(id,'tes-a')"), ["tes-A-0"]);
    assert.deepEqual(ids("stateTransitionTime gt DateTime'2026-01-01T00:00:15Z'"), ["tes-b-0", "tes-c-0"]);
    assert.deepEqual(ids("executionInfo/exitCode ne 0 and state eq 'completed'"), ["tes-b-0"]);
    assert.deepEqual(ids("executionInfo/result eq 'failure' or (state eq 'active')"), ["tes-b-0", "other"]);
    assert.deepEqual(ids("id ge 'tes-b' and id lt 'tes-c'"), ["tes-b-0"]);
  });

  test("enum values match in any case; quotes are escaped by doubling", () => {
    assert.deepEqual(ids("state eq 'Completed'"), ["tes-A-0", "tes-b-0"]);
    assert.deepEqual(ids("id eq 'it''s'"), []);
  });

  test("anything outside the subset is 400 InvalidQueryParameterValue", () => {
    for (const filter of [
      "commandLine eq 'x'",
      "state gt 'active'",
      "state eq",
      "stateTransitionTime gt '2026-01-01'",
      "stateTransitionTime gt DateTime'not a date'",
      "executionInfo/exitCode eq '0'",
      "not state eq 'active'",
      "state eq 'active' xor id eq 'a'",
      "(state eq 'active'",
      "id eq 'unterminated",
    ]) {
      assert.throws(
        () => compileFilter(filter, taskFilter),
        (err: unknown) => err instanceof BatchError && err.status === 400 && err.code === "InvalidQueryParameterValue",
        filter,
      );
    }
  });
});
