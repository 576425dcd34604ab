import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { startHarness, storedCount, validTask, type Harness } from "./testing/service-harness.js";

describe("CreateTask with a backend that objects to a task", () => {
  let h: Harness;
  const seen: Task[] = [];
  before(async () => {
    h = await startHarness({
      admit: async (task) => {
        seen.push(task);
        return task.name === "refuse me"
          ? ['inputs[0].url: file:///etc/passwd is outside the allowed directories', "outputs[1].url: another reason"]
          : [];
      },
    });
  });
  after(() => h.close());

  it("refuses it with invalid_argument naming every problem, and stores and enqueues nothing", async () => {
    const error = await h.client.createTask(validTask({ name: "refuse me" })).catch((e: unknown) => e);
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /inputs\[0\]\.url: .*outside the allowed directories; outputs\[1\]\.url: another reason/);
    assert.equal(await storedCount(h.store), 0);
    assert.equal(h.queue.submitted.length, 0);
  });

  it("stores a task it does not object to, after asking about it", async () => {
    const { id } = await h.client.createTask(validTask({ name: "fine" }));
    assert.equal(await storedCount(h.store), 1);
    assert.ok(seen.some((task) => task.name === "fine"));
    assert.deepEqual(h.queue.submitted, [id]);
  });
});

describe("CreateTask with a backend that has no objections to give", () => {
  it("stores the task when admit is passed as undefined, as a composition root may", async () => {
    const h = await startHarness({ admit: undefined });
    try {
      await h.client.createTask(validTask());
      assert.equal(await storedCount(h.store), 1);
    } finally {
      await h.close();
    }
  });
});
