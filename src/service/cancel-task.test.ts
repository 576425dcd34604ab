import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ResourcesSchema, State, TaskSchema, View } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { ALL, type TaskStore } from "../store/task-store.js";
import { CANCEL_ATTEMPTS } from "./cancel-task.js";
import { overrideStore } from "./testing/override-store.js";
import { as, startHarness, validTask, type Harness } from "./testing/service-harness.js";
import { advanceTask } from "./testing/worker-writes.js";

describe("CancelTask", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ clock: () => new Date("2026-11-28T06:00:00.000Z") });
  });
  after(() => h.close());

  it("moves a QUEUED task that no backend holds straight to CANCELED, with the log's end_time set", async () => {
    const { id } = await h.client.createTask(validTask());
    const response = await h.client.cancelTask({ id });
    assert.deepEqual(Object.keys(response).filter((key) => !key.startsWith("$")), []);
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.equal(task.state, State.CANCELED);
    assert.equal(task.logs.length, 1);
    assert.equal(task.logs[0]?.endTime, "2026-11-28T06:00:00.000Z");
    assert.ok(!h.queue.canceled.includes(id), "nothing runs, so the worker has nothing to stop");
  });

  it("sends a QUEUED task whose attempt may have reached the backend (a log entry, no handle yet) through CANCELING", async () => {
    // The worker writes the attempt's entry before it calls the backend; only it can find and stop
    // an attempt whose handle it has not recorded yet.
    const { id } = await h.client.createTask(validTask());
    await advanceTask(h.store, id, State.QUEUED, { withLogs: true });
    await h.client.cancelTask({ id });
    assert.equal((await h.client.getTask({ id })).state, State.CANCELING);
    assert.equal(h.queue.canceled.at(-1), id);
  });

  it("sends a QUEUED task whose first log holds a backend_parameters warning through CANCELING too", async () => {
    const { id } = await h.client.createTask(
      validTask({ resources: create(ResourcesSchema, { backendParameters: { unknown_key: "v" } }) }),
    );
    await h.client.cancelTask({ id });
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.equal(task.state, State.CANCELING);
    assert.equal(task.logs[0]?.systemLogs.length, 1, "the warning is kept");
    assert.equal(h.queue.canceled.at(-1), id);
  });

  for (const [state, handle] of [
    [State.QUEUED, "batch-task-7"],
    [State.INITIALIZING, "h"],
    [State.RUNNING, "h"],
    [State.PAUSED, "h"],
  ] as const) {
    it(`moves a ${State[state]} task${state === State.QUEUED ? " that a backend holds" : ""} to CANCELING and enqueues the cancel`, async () => {
      const { id } = await h.client.createTask(validTask());
      await advanceTask(h.store, id, state, { backendHandle: handle });
      await h.client.cancelTask({ id });
      assert.equal((await h.client.getTask({ id })).state, State.CANCELING);
      assert.equal(h.queue.canceled.at(-1), id);
      const stored = await h.store.get(id, ALL);
      assert.equal(stored?.backendHandle, handle, "the backend handle is kept for the worker");
    });
  }

  for (const state of [State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.CANCELED, State.PREEMPTED, State.CANCELING]) {
    it(`answers {} and changes nothing for a ${State[state]} task`, async () => {
      const { id } = await h.client.createTask(validTask());
      await advanceTask(h.store, id, state, { backendHandle: "h", withLogs: true });
      const before = await h.store.get(id, ALL);
      const canceled = h.queue.canceled.length;
      await h.client.cancelTask({ id });
      await h.client.cancelTask({ id });
      const after = await h.store.get(id, ALL);
      assert.equal(after?.task.state, state);
      assert.equal(after?.version, before?.version, "not even rewritten");
      assert.equal(h.queue.canceled.length, canceled);
    });
  }

  it("is idempotent: a second cancel of a CANCELING task is a no-op", async () => {
    const { id } = await h.client.createTask(validTask());
    await advanceTask(h.store, id, State.RUNNING, { backendHandle: "h" });
    await h.client.cancelTask({ id });
    const canceled = h.queue.canceled.length;
    await h.client.cancelTask({ id });
    assert.equal(h.queue.canceled.length, canceled);
    assert.equal((await h.client.getTask({ id })).state, State.CANCELING);
  });

  it("answers not_found for an unknown id and for another owner's task", async () => {
    await assert.rejects(h.client.cancelTask({ id: "0190d7a1-0000-7000-8000-000000000000" }), {
      code: Code.NotFound,
      rawMessage: 'task "0190d7a1-0000-7000-8000-000000000000" not found',
    });
    const { id } = await h.client.createTask(validTask(), as("alice"));
    await assert.rejects(h.client.cancelTask({ id }, as("bob")), { code: Code.NotFound });
    assert.equal((await h.client.getTask({ id }, as("alice"))).state, State.QUEUED, "bob's attempt changed nothing");
    await h.client.cancelTask({ id }, as("alice"));
    assert.equal((await h.client.getTask({ id }, as("alice"))).state, State.CANCELED);
  });

  it("refuses an empty id", async () => {
    await assert.rejects(h.client.cancelTask({ id: "" }), { code: Code.InvalidArgument, rawMessage: "id is required" });
  });

  it("still succeeds when the queue is down: the task is CANCELING in the store and the failure is logged", async () => {
    const { id } = await h.client.createTask(validTask());
    await advanceTask(h.store, id, State.RUNNING, { backendHandle: "h" });
    h.queue.failWith = new Error("Redis is down");
    try {
      await h.client.cancelTask({ id });
    } finally {
      h.queue.failWith = undefined;
    }
    assert.equal((await h.client.getTask({ id })).state, State.CANCELING);
    // The enqueue goes on after the answer; its failure is logged as soon as it fails.
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(h.logLines.some((line) => line.taskId === id && line.level === 40));
  });

  it("answers once the task is CANCELING in the store, without waiting for the queue to take the cancel", async () => {
    const { id } = await h.client.createTask(validTask());
    await advanceTask(h.store, id, State.RUNNING, { backendHandle: "h" });
    let release = (): void => {};
    h.queue.holdUntil = new Promise<void>((resolve) => (release = resolve));
    try {
      await h.client.cancelTask({ id });
      assert.equal((await h.client.getTask({ id })).state, State.CANCELING);
      assert.ok(!h.queue.canceled.includes(id), "the queue has not taken the cancel yet");
    } finally {
      h.queue.holdUntil = undefined;
      release();
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.queue.canceled.at(-1), id, "and takes it after the answer");
  });
});

describe("CancelTask racing the worker", () => {
  /** A store whose next update loses the race: the "worker" writes `state` just before it. */
  function racingStore(store: TaskStore, workerWrites: State[]): TaskStore {
    return overrideStore(store, {
      async update(id, expectedVersion, change) {
        const next = workerWrites.shift();
        if (next !== undefined) {
          const current = await store.get(id, ALL);
          const task = clone(TaskSchema, current!.task);
          task.state = next;
          await store.update(id, current!.version, { task, backendHandle: "worker-handle" });
        }
        return store.update(id, expectedVersion, change);
      },
    });
  }

  it("re-reads and decides again when the worker moved the task in between (QUEUED -> INITIALIZING: CANCELING)", async () => {
    const writes = [State.INITIALIZING];
    const h = await startHarness({ wrapStore: (store) => racingStore(store, writes) });
    try {
      const { id } = await h.client.createTask(validTask());
      await h.client.cancelTask({ id });
      assert.equal((await h.client.getTask({ id })).state, State.CANCELING);
      assert.deepEqual(h.queue.canceled, [id]);
    } finally {
      await h.close();
    }
  });

  it("leaves a task the worker ended in between as it is (RUNNING -> COMPLETE: stays COMPLETE)", async () => {
    const writes: State[] = [];
    const h = await startHarness({ wrapStore: (store) => racingStore(store, writes) });
    try {
      const { id } = await h.client.createTask(validTask());
      await advanceTask(h.store, id, State.RUNNING, { backendHandle: "h" });
      writes.push(State.COMPLETE);
      await h.client.cancelTask({ id });
      assert.equal((await h.client.getTask({ id })).state, State.COMPLETE);
      assert.deepEqual(h.queue.canceled, []);
    } finally {
      await h.close();
    }
  });

  it("gives up with aborted after losing the race every time", async () => {
    const writes = Array.from({ length: CANCEL_ATTEMPTS }, (_, i) => (i % 2 === 0 ? State.INITIALIZING : State.QUEUED));
    const h = await startHarness({ wrapStore: (store) => racingStore(store, writes) });
    try {
      const { id } = await h.client.createTask(validTask());
      await assert.rejects(h.client.cancelTask({ id }), {
        code: Code.Aborted,
        rawMessage: `task "${id}" was changed by someone else ${CANCEL_ATTEMPTS} times in a row; try again`,
      });
    } finally {
      await h.close();
    }
  });
});
