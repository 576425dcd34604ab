import assert from "node:assert/strict";
import { test } from "node:test";
import { tasksOfJob } from "./job-data.js";

test("a job's tasks: one from a single-task job, each from a batch, none from data that is not a task job's", () => {
  const traced = { taskId: "t1", traceContext: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } };
  assert.deepEqual(tasksOfJob(traced), [traced]);
  assert.deepEqual(tasksOfJob({ tasks: [{ taskId: "t1" }, { taskId: "t2" }] }), [{ taskId: "t1" }, { taskId: "t2" }]);
  assert.deepEqual(tasksOfJob({ tasks: [{ taskId: "t1" }, { taskId: 7 }, null, "t3"] }), [{ taskId: "t1" }], "malformed entries are skipped");
  for (const garbage of [undefined, null, "t1", 42, {}, { taskId: 1 }, { tasks: "t1" }]) assert.deepEqual(tasksOfJob(garbage), []);
});
