import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import { State, TaskSchema, View, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { encodeTask } from "./task-document.js";
import { MINIMAL_ENTRY_BYTES, TaskViewCache } from "./task-view-cache.js";

function stored(id: string, fields: { state?: State; stdout?: string; name?: string } = {}): { task: Task; document: Uint8Array } {
  const task = create(TaskSchema, {
    id,
    state: fields.state ?? State.RUNNING,
    name: fields.name ?? "t",
    inputs: [{ path: "/in/a", content: "inline" }],
    executors: [{ image: "alpine", command: ["true"] }],
    logs: [{ logs: [{ stdout: fields.stdout ?? "out", exitCode: 0 }], systemLogs: ["pulled"] }],
  });
  // A copy, as each store read hands over bytes of its own.
  return { task, document: Uint8Array.from(encodeTask(task)) };
}

describe("TaskViewCache", () => {
  test("decodes a document once: the same stored bytes give the same frozen view", () => {
    const cache = new TaskViewCache(1 << 20);
    const { task, document } = stored("a");
    const first = cache.view("a", document, View.FULL);
    const again = cache.view("a", Uint8Array.from(document), View.FULL);
    assert.equal(again, first);
    assert.deepEqual(toJson(TaskSchema, first), toJson(TaskSchema, task));
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.logs[0]?.logs[0]) && Object.isFrozen(first.executors[0]?.command));
  });

  test("BASIC drops stdout, input content and system_logs; FULL keeps them", () => {
    const cache = new TaskViewCache(1 << 20);
    const { document } = stored("a");
    const basic = cache.view("a", document, View.BASIC);
    const full = cache.view("a", document, View.FULL);
    assert.equal(basic.logs[0]?.logs[0]?.stdout, "");
    assert.equal(basic.inputs[0]?.content, "");
    assert.deepEqual(basic.logs[0]?.systemLogs, []);
    assert.equal(full.logs[0]?.logs[0]?.stdout, "out");
    assert.equal(full.inputs[0]?.content, "inline");
  });

  test("a changed document (an update) is decoded again: no stale view is ever served", () => {
    const cache = new TaskViewCache(1 << 20);
    const before = cache.view("a", stored("a").document, View.BASIC);
    const after = cache.view("a", stored("a", { state: State.COMPLETE }).document, View.BASIC);
    assert.notEqual(after, before);
    assert.equal(after.state, State.COMPLETE);
    // Same length, other bytes: still a change.
    const one = stored("a", { stdout: "x1" }).document;
    const two = stored("a", { stdout: "x2" }).document;
    assert.equal(one.length, two.length);
    assert.equal(cache.view("a", one, View.FULL).logs[0]?.logs[0]?.stdout, "x1");
    assert.equal(cache.view("a", two, View.FULL).logs[0]?.logs[0]?.stdout, "x2");
    assert.equal(cache.size, 1, "one entry per task");
  });

  test("holds at most maxBytes of documents, dropping the least recently used task first", () => {
    const size = stored("task-0").document.length;
    const cache = new TaskViewCache(size * 3);
    const documents = ["task-0", "task-1", "task-2", "task-3"].map((id) => [id, stored(id).document] as const);
    const views = new Map(documents.slice(0, 3).map(([id, document]) => [id, cache.view(id, document, View.FULL)]));
    assert.equal(cache.heldBytes, size * 3);
    // task-0 is read again, so task-1 is now the least recently used.
    assert.equal(cache.view("task-0", documents[0]![1], View.FULL), views.get("task-0"));
    cache.view("task-3", documents[3]![1], View.FULL);
    assert.equal(cache.size, 3);
    assert.ok(cache.heldBytes <= size * 3);
    assert.equal(cache.view("task-0", documents[0]![1], View.FULL), views.get("task-0"), "task-0 stayed");
    assert.equal(cache.view("task-2", documents[2]![1], View.FULL), views.get("task-2"), "task-2 stayed");
    assert.notEqual(cache.view("task-1", documents[1]![1], View.FULL), views.get("task-1"), "task-1 was dropped and decoded again");
  });

  test("a document larger than the limit is answered but not kept; a limit of 0 keeps nothing", () => {
    const { document } = stored("big", { stdout: "x".repeat(4096) });
    const small = new TaskViewCache(1024);
    const view = small.view("big", document, View.FULL);
    assert.equal(view.logs[0]?.logs[0]?.stdout.length, 4096);
    assert.equal(small.size, 0);
    assert.equal(small.heldBytes, 0);
    const none = new TaskViewCache(0);
    assert.equal(none.view("a", stored("a").document, View.BASIC).id, "a");
    assert.equal(none.size, 0);
  });

  test("MINIMAL: one frozen view per state, a new one as soon as the state read differs", () => {
    const cache = new TaskViewCache(1 << 20);
    const queued = cache.minimal("a", State.QUEUED);
    assert.deepEqual(toJson(TaskSchema, queued), { id: "a", state: "QUEUED" });
    assert.ok(Object.isFrozen(queued));
    assert.equal(cache.minimal("a", State.QUEUED), queued);
    const running = cache.minimal("a", State.RUNNING);
    assert.deepEqual(toJson(TaskSchema, running), { id: "a", state: "RUNNING" });
    assert.equal(cache.minimal("b", State.RUNNING).id, "b", "another task, another view");
    assert.equal(cache.heldBytes, 2 * MINIMAL_ENTRY_BYTES);
  });

  test("MINIMAL and the decoded views of one task live side by side; a changed document is decoded again", () => {
    const cache = new TaskViewCache(1 << 20);
    const { document } = stored("a");
    const minimal = cache.minimal("a", State.RUNNING);
    const basic = cache.view("a", document, View.BASIC);
    assert.equal(cache.minimal("a", State.RUNNING), minimal, "kept beside BASIC");
    assert.equal(cache.view("a", document, View.BASIC), basic);
    assert.equal(cache.size, 1);
    assert.equal(cache.heldBytes, document.length);
    const changed = stored("a", { state: State.COMPLETE }).document;
    assert.equal(cache.view("a", changed, View.BASIC).state, State.COMPLETE);
    assert.equal(cache.minimal("a", State.COMPLETE).state, State.COMPLETE);
    assert.equal(cache.size, 1);
    assert.equal(cache.heldBytes, changed.length);
  });

  test("tasks read only as MINIMAL count toward the limit and leave least recently used first; a limit of 0 keeps none", () => {
    const cache = new TaskViewCache(2 * MINIMAL_ENTRY_BYTES);
    const first = cache.minimal("task-0", State.QUEUED);
    cache.minimal("task-1", State.QUEUED);
    cache.minimal("task-0", State.QUEUED);
    cache.minimal("task-2", State.QUEUED);
    assert.equal(cache.size, 2);
    assert.equal(cache.heldBytes, 2 * MINIMAL_ENTRY_BYTES);
    assert.equal(cache.minimal("task-0", State.QUEUED), first, "task-0 stayed: task-1 was the least recently used");
    const none = new TaskViewCache(0);
    assert.equal(none.minimal("a", State.QUEUED).state, State.QUEUED);
    assert.equal(none.size, 0);
    assert.equal(none.heldBytes, 0);
  });

  test("refuses a limit that is not a whole number of bytes", () => {
    for (const limit of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new TaskViewCache(limit), /task view cache limit/);
    }
  });
});
