import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { InputSchema, OutputSchema, State, TaskSchema, View } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { overrideStore } from "./testing/override-store.js";
import { as, startHarness, validTask, type Harness } from "./testing/service-harness.js";
import { advanceTask } from "./testing/worker-writes.js";

describe("GetTask", () => {
  let h: Harness;
  let id: string;
  before(async () => {
    h = await startHarness();
    ({ id } = await h.client.createTask(
      validTask({
        name: "views",
        tags: { project: "p" },
        inputs: [create(InputSchema, { path: "/in/a", content: "inline secret-free content" })],
        outputs: [create(OutputSchema, { path: "/out/a", url: "s3://b/out/a" })],
      }),
    ));
    await advanceTask(h.store, id, State.COMPLETE, { backendHandle: "run-1", withLogs: true });
  });
  after(() => h.close());

  it("answers MINIMAL by default: id and state only", async () => {
    const task = await h.client.getTask({ id });
    assert.deepEqual(toJson(TaskSchema, task), { id, state: "COMPLETE" });
  });

  it("answers BASIC without executor stdout/stderr, input content and system_logs, with everything else", async () => {
    const task = await h.client.getTask({ id, view: View.BASIC });
    assert.deepEqual(toJson(TaskSchema, task), {
      id,
      state: "COMPLETE",
      name: "views",
      inputs: [{ path: "/in/a", type: "FILE" }],
      // No type: the store was moved to COMPLETE by hand here, not by an attempt that filled it in.
      outputs: [{ url: "s3://b/out/a", path: "/out/a" }],
      executors: [{ image: "alpine", command: ["echo", "hello"] }],
      tags: { project: "p" },
      logs: [
        {
          logs: [{ start_time: "2026-11-28T05:00:02.000Z", end_time: "2026-11-28T05:00:03.000Z" }],
          metadata: { node: "n1" },
          start_time: "2026-11-28T05:00:01.000Z",
          end_time: "2026-11-28T05:00:09.000Z",
          outputs: [{ url: "s3://b/out/a", path: "/out/a", size_bytes: "1024" }],
        },
      ],
      creation_time: task.creationTime,
    });
    assert.match(task.creationTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it("answers FULL with everything", async () => {
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.equal(task.inputs[0]?.content, "inline secret-free content");
    assert.deepEqual(task.logs[0]?.systemLogs, ["pulled image alpine"]);
    assert.equal(task.logs[0]?.logs[0]?.stdout, "hello\n");
    assert.equal(task.logs[0]?.logs[0]?.stderr, "warning\n");
  });

  it("shows every change the worker writes at once, in each view, however often the task was read before", async () => {
    const { id: polled } = await h.client.createTask(validTask({ name: "polled" }));
    for (let poll = 0; poll < 3; poll++) {
      for (const view of [View.MINIMAL, View.BASIC, View.FULL]) assert.equal((await h.client.getTask({ id: polled, view })).state, State.QUEUED);
    }
    await advanceTask(h.store, polled, State.RUNNING, { backendHandle: "run-2" });
    for (const view of [View.MINIMAL, View.BASIC, View.FULL]) assert.equal((await h.client.getTask({ id: polled, view })).state, State.RUNNING);
    await advanceTask(h.store, polled, State.COMPLETE, { withLogs: true });
    const full = await h.client.getTask({ id: polled, view: View.FULL });
    assert.equal(full.state, State.COMPLETE);
    assert.equal(full.logs[0]?.logs[0]?.stdout, "hello\n");
    assert.equal((await h.client.getTask({ id: polled, view: View.BASIC })).logs[0]?.logs[0]?.stdout, "");
  });

  it("answers not_found for an unknown id", async () => {
    await assert.rejects(h.client.getTask({ id: "0190d7a1-0000-7000-8000-000000000000" }), {
      code: Code.NotFound,
      rawMessage: 'task "0190d7a1-0000-7000-8000-000000000000" not found',
    });
  });

  it("answers not_found for ids that cannot exist, without asking the store or echoing them whole", async () => {
    let reads = 0;
    const counted = await startHarness({
      wrapStore: (store) =>
        overrideStore(store, {
          get: (taskId, scope) => (reads++, store.get(taskId, scope)),
          getView: (taskId, scope, view) => (reads++, store.getView(taskId, scope, view)),
        }),
    });
    try {
      await assert.rejects(counted.client.getTask({ id: "a/b:cancel" }), { code: Code.NotFound });
      await assert.rejects(counted.client.getTask({ id: "x".repeat(10000) }), (error: { code: Code; rawMessage: string }) => {
        assert.equal(error.code, Code.NotFound);
        assert.ok(error.rawMessage.length < 120);
        return true;
      });
      assert.equal(reads, 0);
    } finally {
      await counted.close();
    }
  });

  it("refuses an empty id", async () => {
    await assert.rejects(h.client.getTask({ id: "" }), { code: Code.InvalidArgument, rawMessage: "id is required" });
  });

  it("refuses a view the schema does not name", async () => {
    await assert.rejects(h.client.getTask({ id, view: 3 as View }), {
      code: Code.InvalidArgument,
      rawMessage: "view must be one of MINIMAL, BASIC, FULL, got 3",
    });
  });

  it("answers not_found for another owner's task, and finds the caller's own", async () => {
    const { id: alices } = await h.client.createTask(validTask(), as("alice"));
    await assert.rejects(h.client.getTask({ id: alices }, as("bob")), { code: Code.NotFound });
    assert.equal((await h.client.getTask({ id: alices }, as("alice"))).id, alices);
    // The standalone caller (no authentication) sees every task.
    assert.equal((await h.client.getTask({ id: alices })).id, alices);
  });
});
