import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BatchServiceClient } from "@azure/batch";
import type { BatchEmulator } from "./batch-emulator.js";
import { failure, poolBody, readStream, sharedKeyClient, startTestEmulator, waitFor } from "./sdk-test-helpers.js";

// Pins throttling, service faults, preemption and node failures to shared/notes/AZURE-BATCH.md §4 and §6.
describe("Batch emulator: faults, throttling and preemption", () => {
  let emulator: BatchEmulator;
  let batch: BatchServiceClient;
  before(async () => {
    emulator = await startTestEmulator();
    batch = sharedKeyClient(emulator);
    await batch.pool.add(poolBody("pool-f", { targetDedicatedNodes: 1 }));
    await batch.job.add({ id: "job-f", poolInfo: { poolId: "pool-f" } });
  });
  after(async () => {
    await emulator.stop();
  });

  const taskIn = (jobId: string, taskId: string, state: string) =>
    waitFor(`task ${taskId} ${state}`, async () => {
      const task = await batch.task.get(jobId, taskId);
      return task.state === state ? task : undefined;
    });

  test("429 with Retry-After reaches the caller even with the SDK's default retry policies on", async () => {
    // Measured, and at odds with §6 "SDK retries": in @azure/batch 10.2.0's pipeline the
    // deserialization policy throws on a 429 before ms-rest-js's throttling policy can read
    // Retry-After, so nothing is retried and the caller must honour Retry-After itself. (5xx and
    // 408 are retried once by the exponential policy after ~30 s, ignoring Retry-After.)
    emulator.resetCounts();
    emulator.faults.http({ operation: "Pool_Get", status: 429, retryAfterSeconds: 1 });
    const withRetries = sharedKeyClient(emulator, { retries: true });
    const err = await failure(withRetries.pool.get("pool-f"));
    assert.equal(err.statusCode, 429);
    assert.equal(err.headers["retry-after"], "1");
    assert.deepEqual(emulator.counts(), { Pool_Get: 1 });
    assert.equal((await withRetries.pool.get("pool-f")).id, "pool-f");
  });

  test("429 answers carry the service's body: TooManyRequests and its message", async () => {
    emulator.faults.http({ operation: "Task_List", status: 429, retryAfterSeconds: 3 });
    const err = await failure(batch.task.list("job-f"));
    // §6 "Throttling": real 429 body code TooManyRequests.
    assert.equal(err.statusCode, 429);
    assert.equal(err.code, "TooManyRequests");
    assert.equal(err.headers["retry-after"], "3");
    assert.match((err.body as { message: { value: string } }).message.value, /^Request failed as server encountered too many requests\. Please try again\./);
  });

  test("500 and 503 come back as InternalError and ServerBusy", async () => {
    emulator.faults.http({ operation: "Job_Get", status: 500 });
    const internal = await failure(batch.job.get("job-f"));
    assert.equal(internal.statusCode, 500);
    assert.equal(internal.code, "InternalError");
    emulator.faults.http({ operation: "Job_Get", status: 503, retryAfterSeconds: 1 });
    const busy = await failure(batch.job.get("job-f"));
    assert.equal(busy.statusCode, 503);
    assert.equal(busy.code, "ServerBusy");
    assert.equal((await batch.job.get("job-f")).id, "job-f");
  });

  test("a slow answer is delayed by the injected time", async () => {
    emulator.faults.http({ operation: "Job_Get", delayMs: 300 });
    const started = Date.now();
    await batch.job.get("job-f");
    assert.ok(Date.now() - started >= 290);
  });

  test("a fault after the operation (a lost answer): resending AddCollection with the same ids reports TaskExists", async () => {
    emulator.faults.http({ operation: "Task_AddCollection", status: 500, when: "after" });
    const lost = await failure(batch.task.addCollection("job-f", [{ id: "lost-1", commandLine: "true" }]));
    assert.equal(lost.statusCode, 500);
    // §3 "AddCollection results": after a dropped answer, resend with the same ids; it may have been applied.
    const resent = await batch.task.addCollection("job-f", [{ id: "lost-1", commandLine: "true" }]);
    assert.equal(resent.value?.[0]?.status, "clientError");
    assert.equal(resent.value?.[0]?.error?.code, "TaskExists");
  });

  test("a preempted low-priority node requeues its running task, which reruns when the node comes back", async () => {
    await batch.pool.add(poolBody("pool-spot", { targetLowPriorityNodes: 1 }));
    await batch.job.add({ id: "job-spot", poolInfo: { poolId: "pool-spot" } });
    await batch.task.add("job-spot", { id: "spot-task", commandLine: "/bin/sh -c 'echo run >> $AZ_BATCH_NODE_SHARED_DIR/runs; sleep 0.7'" });
    const running = await taskIn("job-spot", "spot-task", "running");
    const nodeId = emulator.faults.preemptNode("pool-spot");
    assert.equal(nodeId, running.nodeInfo?.nodeId);
    // §4 "Spot/low-priority node preempted": node preempted and still listed; the task back to active.
    const node = await batch.computeNode.get("pool-spot", nodeId);
    assert.equal(node.state, "preempted");
    assert.equal(node.isDedicated, false);
    assert.ok(node.recentTasks?.some((t) => t.taskId === "spot-task"));
    const requeued = await batch.task.get("job-spot", "spot-task");
    assert.equal(requeued.state, "active");
    assert.equal(requeued.previousState, "running");
    assert.equal(requeued.executionInfo?.retryCount, 0);
    const pool = await batch.pool.get("pool-spot");
    assert.equal(pool.currentLowPriorityNodes, 1);
    emulator.faults.recoverNode("pool-spot", nodeId);
    const done = await taskIn("job-spot", "spot-task", "completed");
    assert.equal(done.executionInfo?.result, "success");
    assert.equal(done.nodeInfo?.nodeId, nodeId);
  });

  test("dedicated nodes cannot be preempted", () => {
    assert.throws(() => emulator.faults.preemptNode("pool-f", { nodeId: "nope" }));
  });

  test("a failing start task leaves the node startTaskFailed and the job's tasks active", async () => {
    await batch.pool.add(poolBody("pool-st", { targetDedicatedNodes: 1, startTask: { commandLine: "/bin/sh -c 'echo preparing; exit 3'", waitForSuccess: true, maxTaskRetryCount: 1 } }));
    await batch.job.add({ id: "job-st", poolInfo: { poolId: "pool-st" } });
    await batch.task.add("job-st", { id: "never-runs", commandLine: "true" });
    const node = await waitFor("start task failed", async () => {
      const nodes = await batch.computeNode.list("pool-st");
      // The 10.2.0 typings spell node states in lower case; the wire is camelCase (§2 "Enum casing").
      return String(nodes[0]?.state).toLowerCase() === "starttaskfailed" ? nodes[0] : undefined;
    });
    // §4: retried up to StartTask.maxTaskRetryCount, then startTaskFailed with startTaskInfo.result failure.
    assert.equal(node.startTaskInfo?.result, "failure");
    assert.equal(node.startTaskInfo?.exitCode, 3);
    assert.equal(node.startTaskInfo?.retryCount, 1);
    assert.equal(node.startTaskInfo?.failureInfo?.code, "FailureExitCode");
    assert.equal((await batch.task.get("job-st", "never-runs")).state, "active");
  });

  test("a start task that succeeds makes the node idle and its shared directory visible to tasks", async () => {
    await batch.pool.add(poolBody("pool-ok", { targetDedicatedNodes: 1, startTask: { commandLine: "/bin/sh -c 'echo ready > $AZ_BATCH_NODE_SHARED_DIR/marker'" } }));
    await batch.job.add({ id: "job-ok", poolInfo: { poolId: "pool-ok" } });
    await batch.task.add("job-ok", { id: "reads-marker", commandLine: "/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/marker'" });
    await taskIn("job-ok", "reads-marker", "completed");
    assert.equal(await readStream((await batch.file.getFromTask("job-ok", "reads-marker", "stdout.txt")).readableStreamBody), "ready\n");
    const [node] = await batch.computeNode.list("pool-ok");
    assert.equal(node?.startTaskInfo?.result, "success");
  });

  test("an injected task failure (ContainerInvalidImage) completes the task with that failureInfo", async () => {
    emulator.faults.task({ taskIdPrefix: "img-", code: "ContainerInvalidImage", message: "One or more container images specified are invalid" });
    await batch.task.add("job-f", { id: "img-1", commandLine: "true", containerSettings: { imageName: "no/such:image" } });
    const task = await taskIn("job-f", "img-1", "completed");
    // §4: completed, failureInfo{userError, ContainerInvalidImage}.
    assert.equal(task.executionInfo?.failureInfo?.code, "ContainerInvalidImage");
    assert.equal(task.executionInfo?.failureInfo?.category, "userError");
    assert.equal(task.executionInfo?.result, "failure");
  });

  test("a task without containerSettings on a container pool fails with ContainerTaskSettingsNotFound", async () => {
    await batch.pool.add(
      poolBody("pool-docker", {
        targetDedicatedNodes: 1,
        virtualMachineConfiguration: {
          imageReference: { publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" },
          nodeAgentSKUId: "batch.node.ubuntu 22.04",
          containerConfiguration: { containerImageNames: ["busybox"] },
        },
      }),
    );
    await batch.job.add({ id: "job-docker", poolInfo: { poolId: "pool-docker" } });
    await batch.task.add("job-docker", { id: "bare", commandLine: "true" });
    const task = await taskIn("job-docker", "bare", "completed");
    assert.equal(task.executionInfo?.failureInfo?.code, "ContainerTaskSettingsNotFound");
  });

  test("pool delete requeues running tasks (requeueCount + 1)", async () => {
    await batch.pool.add(poolBody("pool-del", { targetDedicatedNodes: 1 }));
    await batch.job.add({ id: "job-del", poolInfo: { poolId: "pool-del" } });
    await batch.task.add("job-del", { id: "victim", commandLine: "sleep 30" });
    await taskIn("job-del", "victim", "running");
    await batch.pool.deleteMethod("pool-del");
    const task = await batch.task.get("job-del", "victim");
    // §3 Pool Delete / §4 "Pool shrink or delete with requeue".
    assert.equal(task.state, "active");
    assert.equal(task.executionInfo?.requeueCount, 1);
  });
});
