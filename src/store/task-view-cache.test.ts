import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import { State, TaskSchema, View, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { encodeTask } from "./task-document.js";
import { MINIMAL_ENTRY_BYTES, TaskViewCache, type StoredView } from "./task-view-cache.js";

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

/** A stored row as a store reads it: the document left out when its version is the held one; counts document reads. */
class Row {
  documentReads = 0;
  constructor(
    public version: number,
    public document: Uint8Array,
  ) {}

  read = (heldVersion: number): StoredView => {
    if (heldVersion === this.version) return { version: this.version, document: null };
    this.documentReads += 1;
    return { version: this.version, document: Uint8Array.from(this.document) };
  };

  update(document: Uint8Array): void {
    this.version += 1;
    this.document = document;
  }
}

describe("TaskViewCache", () => {
  test("decodes a document once, and reads it no more while its version is the stored one", async () => {
    const cache = new TaskViewCache(1 << 20);
    const { task, document } = stored("a");
    const row = new Row(1, document);
    const first = await cache.view("a", View.FULL, row.read);
    const again = await cache.view("a", View.FULL, row.read);
    assert.equal(again, first);
    assert.equal(row.documentReads, 1);
    assert.deepEqual(toJson(TaskSchema, first as Task), toJson(TaskSchema, task));
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first?.logs[0]?.logs[0]) && Object.isFrozen(first?.executors[0]?.command));
  });

  test("BASIC drops stdout, input content and system_logs; FULL keeps them; both come from one read", async () => {
    const cache = new TaskViewCache(1 << 20);
    const row = new Row(1, stored("a").document);
    const basic = await cache.view("a", View.BASIC, row.read);
    const full = await cache.view("a", View.FULL, row.read);
    assert.equal(basic?.logs[0]?.logs[0]?.stdout, "");
    assert.equal(basic?.inputs[0]?.content, "");
    assert.deepEqual(basic?.logs[0]?.systemLogs, []);
    assert.equal(full?.logs[0]?.logs[0]?.stdout, "out");
    assert.equal(full?.inputs[0]?.content, "inline");
    assert.equal(row.documentReads, 1, "FULL is decoded from the document held for BASIC");
  });

  test("a new stored version (an update by any process) is read and decoded again: no stale view is ever served", async () => {
    const cache = new TaskViewCache(1 << 20);
    const row = new Row(1, stored("a").document);
    const before = await cache.view("a", View.BASIC, row.read);
    row.update(stored("a", { state: State.COMPLETE }).document);
    const after = await cache.view("a", View.BASIC, row.read);
    assert.notEqual(after, before);
    assert.equal(after?.state, State.COMPLETE);
    assert.equal(row.documentReads, 2);
    // Same length, other bytes: a change all the same.
    row.update(stored("a", { stdout: "x1" }).document);
    assert.equal((await cache.view("a", View.FULL, row.read))?.logs[0]?.logs[0]?.stdout, "x1");
    row.update(stored("a", { stdout: "x2" }).document);
    assert.equal((await cache.view("a", View.FULL, row.read))?.logs[0]?.logs[0]?.stdout, "x2");
    assert.equal(cache.size, 1, "one entry per task");
  });

  test("a task the read does not find is answered undefined and not kept", async () => {
    const cache = new TaskViewCache(1 << 20);
    assert.equal(await cache.view("gone", View.BASIC, () => undefined), undefined);
    assert.equal(cache.size, 0);
  });

  test("when the held document goes while the read is out, the task is read again with its document", async () => {
    const cache = new TaskViewCache(stored("a").document.length);
    const a = new Row(1, stored("a").document);
    const b = new Row(1, stored("b").document);
    await cache.view("a", View.BASIC, a.read);
    const heldVersions: number[] = [];
    const view = await cache.view("a", View.BASIC, async (heldVersion) => {
      heldVersions.push(heldVersion);
      // Another GetTask, answered while this read was out, takes the only room there is.
      if (heldVersions.length === 1) await cache.view("b", View.BASIC, b.read);
      return a.read(heldVersion);
    });
    assert.equal(view?.id, "a");
    assert.deepEqual(heldVersions, [1, 0], "asked without the document, then with it");
  });

  test("holds at most maxBytes of documents, dropping the least recently used task first", async () => {
    const size = stored("task-0").document.length;
    const cache = new TaskViewCache(size * 3);
    const rows = new Map(["task-0", "task-1", "task-2", "task-3"].map((id) => [id, new Row(1, stored(id).document)]));
    const read = (id: string) => cache.view(id, View.FULL, rows.get(id)!.read);
    const views = new Map([["task-0", await read("task-0")], ["task-1", await read("task-1")], ["task-2", await read("task-2")]]);
    assert.equal(cache.heldBytes, size * 3);
    // task-0 is read again, so task-1 is now the least recently used.
    assert.equal(await read("task-0"), views.get("task-0"));
    await read("task-3");
    assert.equal(cache.size, 3);
    assert.ok(cache.heldBytes <= size * 3);
    assert.equal(await read("task-0"), views.get("task-0"), "task-0 stayed");
    assert.equal(await read("task-2"), views.get("task-2"), "task-2 stayed");
    assert.notEqual(await read("task-1"), views.get("task-1"), "task-1 was dropped and decoded again");
    assert.equal(rows.get("task-1")!.documentReads, 2);
  });

  test("a document larger than the limit is answered but not kept; a limit of 0 keeps nothing", async () => {
    const big = new Row(1, stored("big", { stdout: "x".repeat(4096) }).document);
    const small = new TaskViewCache(1024);
    assert.equal((await small.view("big", View.FULL, big.read))?.logs[0]?.logs[0]?.stdout.length, 4096);
    assert.equal(small.size, 0);
    assert.equal(small.heldBytes, 0);
    await small.view("big", View.FULL, big.read);
    assert.equal(big.documentReads, 2, "read with its document each time");
    const none = new TaskViewCache(0);
    assert.equal((await none.view("a", View.BASIC, new Row(1, stored("a").document).read))?.id, "a");
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

  test("MINIMAL and the decoded views of one task live side by side; a new version is decoded again", async () => {
    const cache = new TaskViewCache(1 << 20);
    const row = new Row(1, stored("a").document);
    const minimal = cache.minimal("a", State.RUNNING);
    const basic = await cache.view("a", View.BASIC, row.read);
    assert.equal(cache.minimal("a", State.RUNNING), minimal, "kept beside BASIC");
    assert.equal(await cache.view("a", View.BASIC, row.read), basic);
    assert.equal(cache.size, 1);
    assert.equal(cache.heldBytes, row.document.length);
    row.update(stored("a", { state: State.COMPLETE }).document);
    assert.equal((await cache.view("a", View.BASIC, row.read))?.state, State.COMPLETE);
    assert.equal(cache.minimal("a", State.COMPLETE).state, State.COMPLETE);
    assert.equal(cache.size, 1);
    assert.equal(cache.heldBytes, row.document.length);
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
