import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { State, TaskSchema } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { tesJsonBody, writeTesJson } from "./json-writer.js";

function deepFreeze<T extends object>(value: T): T {
  for (const field of Object.values(value)) if (typeof field === "object" && field !== null) deepFreeze(field);
  return Object.freeze(value);
}

function task() {
  return create(TaskSchema, { id: "t1", state: State.RUNNING, name: "n", executors: [{ image: "alpine", command: ["true"] }], logs: [{ logs: [{ exitCode: 0 }] }] });
}

describe("tesJsonBody", () => {
  test("writes the same TES JSON as writeTesJson (required fields filled in)", () => {
    const message = task();
    const expected = writeTesJson(TaskSchema, message);
    assert.equal(expected.logs !== undefined, true);
    assert.deepEqual(JSON.parse(tesJsonBody(TaskSchema, message)), expected);
    assert.deepEqual(JSON.parse(tesJsonBody(TaskSchema, deepFreeze(task()))), expected);
  });

  test("a frozen message (which cannot change) is written once; its body is reused", (t) => {
    const frozen = deepFreeze(task());
    const writes = t.mock.method(JSON, "stringify");
    const first = tesJsonBody(TaskSchema, frozen);
    assert.equal(tesJsonBody(TaskSchema, frozen), first);
    assert.equal(writes.mock.callCount(), 1, "written once, then reused");
    // Another frozen message with other content has its own body.
    const other = deepFreeze(create(TaskSchema, { id: "t2", state: State.COMPLETE }));
    assert.equal(JSON.parse(tesJsonBody(TaskSchema, other)).state, "COMPLETE");
  });

  test("a message that can change is written afresh each time, so a change always shows", () => {
    const message = task();
    assert.equal(JSON.parse(tesJsonBody(TaskSchema, message)).state, "RUNNING");
    message.state = State.COMPLETE;
    assert.equal(JSON.parse(tesJsonBody(TaskSchema, message)).state, "COMPLETE");
  });
});
