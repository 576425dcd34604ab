import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { TaskStore } from "../store/task-store.js";
import { overrideStore } from "./testing/override-store.js";
import { startHarness, validTask } from "./testing/service-harness.js";

describe("errors the client is not meant to see", () => {
  it("answers internal with a plain message, and logs the real error, when the store fails", async () => {
    const leaky = new Error("connect to postgres://tes:hunter2@db:5432 failed");
    const failing = (store: TaskStore) =>
      overrideStore(store, {
        get: async () => {
          throw leaky;
        },
        getView: async () => {
          throw leaky;
        },
        insert: async () => {
          throw leaky;
        },
      });
    const h = await startHarness({ wrapStore: failing });
    try {
      for (const call of [() => h.client.getTask({ id: "abc" }), () => h.client.createTask(validTask())]) {
        await assert.rejects(call(), (error: { code: Code; rawMessage: string }) => {
          assert.equal(error.code, Code.Internal);
          assert.match(error.rawMessage, /^(GetTask|CreateTask) failed because of an internal error; the details are in the server log$/);
          assert.ok(!error.rawMessage.includes("hunter2"));
          return true;
        });
      }
      assert.equal(h.logLines.filter((line) => line.level === 50).length, 2);
      assert.deepEqual(h.queue.submitted, []);
    } finally {
      await h.close();
    }
  });
});
