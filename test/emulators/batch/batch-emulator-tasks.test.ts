import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import type { BatchEmulator } from "./batch-emulator.js";
import { API, bearerClient, failure, poolBody, readStream, sharedKeyClient, signedRequest, startTestEmulator, waitFor } from "./sdk-test-helpers.js";

// Pins jobs, tasks and task files to shared/notes/AZURE-BATCH.md §3 (Job, Task and File rows) and §4.
describe("Batch emulator: jobs, tasks and task files", () => {
  let emulator: BatchEmulator;
  let batch: BatchServiceClient;
  before(async () => {
    // Deletions take a second, so a second delete reliably lands while the first is in progress.
    emulator = await startTestEmulator({ quotas: { activeJobs: 4 }, timing: { deleteMs: 1000 } });
    batch = sharedKeyClient(emulator);
    await batch.pool.add(poolBody("pool-1", { targetDedicatedNodes: 2, taskSlotsPerNode: 2 }));
    await batch.job.add({ id: "job-1", poolInfo: { poolId: "pool-1" } });
  });
  after(async () => {
    await emulator.stop();
  });

  const completed = (jobId: string, taskId: string, timeoutMs = 30_000) =>
    waitFor(
      `task ${taskId} completed`,
      async () => {
        const task = await batch.task.get(jobId, taskId);
        return task.state === "completed" ? task : undefined;
      },
      timeoutMs,
    );

  const file = async (jobId: string, taskId: string, path: string) => readStream((await batch.file.getFromTask(jobId, taskId, path)).readableStreamBody);

  test("Job Add answers 201; the same id again is 409 JobExists; Job Get of a missing job is 404 JobNotFound", async () => {
    const added = await batch.job.add({ id: "job-2", poolInfo: { poolId: "pool-1" }, onAllTasksComplete: "noaction", onTaskFailure: "noaction" });
    assert.equal(added._response.status, 201);
    const exists = await failure(batch.job.add({ id: "JOB-2", poolInfo: { poolId: "pool-1" } }));
    assert.equal(exists.statusCode, 409);
    assert.equal(exists.code, "JobExists");
    const missing = await failure(batch.job.get("no-such-job"));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, "JobNotFound");
    const job = await batch.job.get("job-2");
    assert.equal(job.state, "active");
    assert.equal(job.poolInfo?.poolId, "pool-1");
    assert.equal(job.executionInfo?.poolId, "pool-1");
  });

  test("a task's command line runs on a node with Batch's environment, and its exit code and stdout come back", async () => {
    const answer = await batch.task.add("job-1", {
      id: "env-task",
      // §3 "Task body": no shell, so the test wraps its script in /bin/sh -c.
      commandLine: `/bin/sh -c 'echo "$AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID on $AZ_BATCH_NODE_ID"; pwd; echo "$AZ_BATCH_TASK_WORKING_DIR"; echo "$AZ_BATCH_NODE_SHARED_DIR"; echo "$MY_SETTING"; echo oops >&2; echo result > out.txt; exit 7'`,
      environmentSettings: [{ name: "MY_SETTING", value: "from-the-task" }],
    });
    assert.equal(answer._response.status, 201);
    const task = await completed("job-1", "env-task");
    // §4: completed, exitCode, result failure, failureInfo userError FailureExitCode.
    assert.equal(task.executionInfo?.exitCode, 7);
    assert.equal(task.executionInfo?.result, "failure");
    assert.equal(task.executionInfo?.failureInfo?.category, "userError");
    assert.equal(task.executionInfo?.failureInfo?.code, "FailureExitCode");
    assert.ok(task.executionInfo?.startTime instanceof Date && task.executionInfo.endTime instanceof Date);
    assert.equal(task.executionInfo?.retryCount, 0);
    assert.equal(task.previousState, "running");
    const nodeId = task.nodeInfo?.nodeId ?? "";
    assert.equal(task.nodeInfo?.poolId, "pool-1");
    const [first, cwd, workingDir, sharedDir, setting] = (await file("job-1", "env-task", "stdout.txt")).trim().split("\n");
    assert.equal(first, `job-1/env-task on ${nodeId}`);
    assert.equal(cwd, workingDir);
    assert.match(workingDir ?? "", /\/workitems\/job-1\/job-1\/env-task\/wd$/);
    assert.match(sharedDir ?? "", /\/shared$/);
    assert.equal(setting, "from-the-task");
    assert.equal(await file("job-1", "env-task", "stderr.txt"), "oops\n");
    // §3 File GetFromTask: paths under wd/, filePath encoded with %2F by the SDK.
    assert.equal(await file("job-1", "env-task", "wd/out.txt"), "result\n");
  });

  test("a successful task completes with exitCode 0, result success and no failureInfo", async () => {
    await batch.task.add("job-1", { id: "ok-task", commandLine: "echo fine" });
    const task = await completed("job-1", "ok-task");
    assert.equal(task.executionInfo?.exitCode, 0);
    assert.equal(task.executionInfo?.result, "success");
    assert.equal(task.executionInfo?.failureInfo, undefined);
  });

  test("a failing task with maxTaskRetryCount 2 runs three times, then completes with retryCount 2", async () => {
    await batch.task.add("job-1", { id: "retry-task", commandLine: "/bin/sh -c 'echo run >> ../../runs.txt; exit 1'", constraints: { maxTaskRetryCount: 2 } });
    const task = await completed("job-1", "retry-task");
    // §4: maxTaskRetryCount = retries after the first run.
    assert.equal(task.executionInfo?.retryCount, 2);
    assert.ok(task.executionInfo?.lastRetryTime instanceof Date);
    assert.equal(task.executionInfo?.exitCode, 1);
  });

  test("a task over its maxWallClockTime is ended with TaskEnded", async () => {
    await batch.task.add("job-1", { id: "slow-task", commandLine: "sleep 30", constraints: { maxWallClockTime: "PT0.3S" } });
    const task = await completed("job-1", "slow-task");
    assert.equal(task.executionInfo?.result, "failure");
    assert.equal(task.executionInfo?.failureInfo?.code, "TaskEnded");
  });

  test("a missing program completes the task with CommandProgramNotFound and is not retried", async () => {
    await batch.task.add("job-1", { id: "noprog-task", commandLine: "/no/such/program", constraints: { maxTaskRetryCount: 3 } });
    const task = await completed("job-1", "noprog-task");
    assert.equal(task.executionInfo?.failureInfo?.code, "CommandProgramNotFound");
    assert.equal(task.executionInfo?.retryCount, 0);
  });

  test("Task Add refuses a duplicate id (any case) with 409 TaskExists and a bad body with 400", async () => {
    const dup = await failure(batch.task.add("job-1", { id: "OK-TASK", commandLine: "true" }));
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.code, "TaskExists");
    // The SDK checks required properties before sending; the service's answer is pinned with a raw request.
    const sdkRefusal = await failure(batch.task.add("job-1", { id: "no-command" } as never));
    assert.equal(sdkRefusal.statusCode, undefined);
    const noCommand = await signedRequest(emulator, "POST", `/jobs/job-1/tasks?${API}`, { body: JSON.stringify({ id: "no-command" }) });
    assert.equal(noCommand.status, 400);
    assert.equal(noCommand.json?.code, "MissingRequiredProperty");
    assert.deepEqual(noCommand.json?.values, [{ key: "PropertyName", value: "commandLine" }]);
    const missingJob = await failure(batch.task.add("no-such-job", { id: "t", commandLine: "true" }));
    assert.equal(missingJob.statusCode, 404);
    assert.equal(missingJob.code, "JobNotFound");
    const notJson = await signedRequest(emulator, "POST", `/jobs/job-1/tasks?${API}`, { body: "{not json" });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json?.code, "InvalidRequestBody");
  });

  test("Task AddCollection answers 200 with a result per task, successes and client errors alike", async () => {
    await batch.job.add({ id: "job-coll", poolInfo: { poolId: "pool-1" } });
    const tasks: BatchServiceModels.TaskAddParameter[] = [
      { id: "c-1", commandLine: "true" },
      { id: "c-2", commandLine: "true" },
      { id: "c-1", commandLine: "true" },
      { id: "bad id!", commandLine: "true" },
    ];
    const answer = await batch.task.addCollection("job-coll", tasks);
    assert.equal(answer._response.status, 200);
    // §3 "AddCollection results": any order; duplicate → clientError TaskExists.
    const byOutcome = answer.value?.map((r) => `${r.taskId}:${r.status}:${r.error?.code ?? ""}`).sort();
    assert.deepEqual(byOutcome, ["bad id!:clientError:InvalidPropertyValue", "c-1:clientError:TaskExists", "c-1:success:", "c-2:success:"]);
    const success = answer.value?.find((r) => r.status === "success");
    assert.match(success?.eTag ?? "", /^0x/);
    assert.match(success?.location ?? "", new RegExp(`^${emulator.url}/jobs/job-coll/tasks/c-`));
  });

  test("Task AddCollection refuses more than 100 tasks, and an injected fault answers serverError per task", async () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ id: `m-${i}`, commandLine: "true" }));
    // The SDK itself refuses over 100 (maxItems); the service answers 400 (§3, code unconfirmed).
    assert.equal((await failure(batch.task.addCollection("job-coll", many))).statusCode, undefined);
    const tooMany = await signedRequest(emulator, "POST", `/jobs/job-coll/addtaskcollection?${API}`, { body: JSON.stringify({ value: many }) });
    assert.equal(tooMany.status, 400);
    // §3: a body of 1 MB or more is 413 RequestBodyTooLarge.
    const huge = [{ id: "huge", commandLine: `echo ${"x".repeat(1024 * 1024)}` }];
    const tooLarge = await signedRequest(emulator, "POST", `/jobs/job-coll/addtaskcollection?${API}`, { body: JSON.stringify({ value: huge }) });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json?.code, "RequestBodyTooLarge");
    emulator.faults.addCollection({ tasks: 1 });
    const answer = await batch.task.addCollection("job-coll", [
      { id: "s-1", commandLine: "true" },
      { id: "s-2", commandLine: "true" },
    ]);
    assert.deepEqual(answer.value?.map((r) => `${r.taskId}:${r.status}`).sort(), ["s-1:serverError", "s-2:success"]);
    // §3: retry serverError tasks with the same ids.
    const retried = await batch.task.addCollection("job-coll", [{ id: "s-1", commandLine: "true" }]);
    assert.equal(retried.value?.[0]?.status, "success");
  });

  test("Task List pages with maxresults and odata.nextLink, filters and projects (bearer-token client)", async () => {
    const viaBearer = bearerClient(emulator);
    await viaBearer.job.add({ id: "job-list", poolInfo: { poolId: "no-nodes-pool" } });
    const tasks = Array.from({ length: 25 }, (_, i) => ({ id: `tes-${String(i).padStart(2, "0")}`, commandLine: "true" }));
    await viaBearer.task.addCollection("job-list", tasks);
    await viaBearer.task.add("job-list", { id: "other-1", commandLine: "true" });
    const seen: string[] = [];
    let page = await viaBearer.task.list("job-list", { taskListOptions: { filter: "startswith(id,'tes-') and state eq 'active'", select: "id,state", maxResults: 10 } });
    seen.push(...page.map((t) => t.id ?? ""));
    let pages = 1;
    while (page.odatanextLink !== undefined) {
      page = await viaBearer.task.listNext(page.odatanextLink);
      seen.push(...page.map((t) => t.id ?? ""));
      pages += 1;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, tasks.map((t) => t.id));
    assert.deepEqual(Object.keys({ ...page[0] }).sort(), ["id", "state"]);
    const none = await viaBearer.task.list("job-list", { taskListOptions: { filter: "state eq 'completed'" } });
    assert.equal(none.length, 0);
    // §3: properties outside the documented filter subset are refused.
    const bad = await failure(viaBearer.task.list("job-list", { taskListOptions: { filter: "commandLine eq 'true'" } }));
    assert.equal(bad.code, "InvalidQueryParameterValue");
    const badSelect = await failure(viaBearer.task.list("job-list", { taskListOptions: { select: "id,colour" } }));
    assert.equal(badSelect.code, "InvalidQueryParameterValue");
  });

  test("Task List filters on stateTransitionTime and executionInfo/exitCode", async () => {
    const before = new Date(Date.now() - 60_000).toISOString();
    const failed = await batch.task.list("job-1", { taskListOptions: { filter: `stateTransitionTime gt DateTime'${before}' and executionInfo/exitCode ne 0 and state eq 'completed'`, select: "id" } });
    assert.ok(failed.some((t) => t.id === "env-task"));
    assert.ok(!failed.some((t) => t.id === "ok-task"));
  });

  test("a running task ends on Task Terminate (204) as completed with TaskEnded", async () => {
    await batch.task.add("job-1", { id: "term-task", commandLine: "sleep 30" });
    await waitFor("running", async () => ((await batch.task.get("job-1", "term-task")).state === "running" ? true : undefined));
    const answer = await batch.task.terminate("job-1", "term-task");
    assert.equal(answer._response.status, 204);
    const task = await batch.task.get("job-1", "term-task");
    assert.equal(task.state, "completed");
    assert.equal(task.executionInfo?.failureInfo?.code, "TaskEnded");
    assert.equal(task.executionInfo?.result, "failure");
  });

  test("Task Delete answers 200 and removes the task and its files; then 404 TaskNotFound", async () => {
    const answer = await batch.task.deleteMethod("job-1", "ok-task");
    assert.equal(answer._response.status, 200);
    const gone = await failure(batch.task.get("job-1", "ok-task"));
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.code, "TaskNotFound");
  });

  test("a task's ETag moves with each change of state; Task Delete with If-Match deletes only at the current ETag (else 412 ConditionNotMet)", async () => {
    // The add's own answer: a node may take the task before a Task Get could read it.
    const added = (await batch.task.add("job-1", { id: "etag-task", commandLine: "sleep 30" })).eTag;
    await waitFor("running", async () => ((await batch.task.get("job-1", "etag-task")).state === "running" ? true : undefined));
    const running = (await batch.task.get("job-1", "etag-task")).eTag;
    await batch.task.terminate("job-1", "etag-task");
    const ended = (await batch.task.get("job-1", "etag-task")).eTag;
    assert.equal(new Set([added, running, ended]).size, 3, `three states, three ETags: ${added} ${running} ${ended}`);

    const stale = await failure(batch.task.deleteMethod("job-1", "etag-task", { taskDeleteMethodOptions: { ifMatch: running } }));
    assert.deepEqual([stale.statusCode, stale.code], [412, "ConditionNotMet"]);
    assert.equal((await batch.task.get("job-1", "etag-task")).state, "completed", "not deleted");
    const otherCondition = await failure(batch.task.deleteMethod("job-1", "etag-task", { taskDeleteMethodOptions: { ifNoneMatch: ended } }));
    assert.deepEqual([otherCondition.statusCode, otherCondition.code], [400, "UnsupportedHeader"]);
    const current = await batch.task.deleteMethod("job-1", "etag-task", { taskDeleteMethodOptions: { ifMatch: ended } });
    assert.equal(current._response.status, 200);
    assert.equal((await failure(batch.task.get("job-1", "etag-task"))).statusCode, 404);
  });

  test("task files: ocp-range reads part of a file; a missing file is 404; HEAD gives the properties", async () => {
    const part = await batch.file.getFromTask("job-1", "env-task", "wd/out.txt", { fileGetFromTaskOptions: { ocpRange: "bytes=0-2" } });
    assert.equal(await readStream(part.readableStreamBody), "res");
    const missing = await failure(batch.file.getFromTask("job-1", "env-task", "wd/none.txt"));
    assert.equal(missing.statusCode, 404);
    const props = await batch.file.getPropertiesFromTask("job-1", "env-task", "stdout.txt");
    assert.equal(props.contentLength, (await file("job-1", "env-task", "stdout.txt")).length);
    assert.equal(props.ocpBatchFileIsdirectory, false);
    const listed = await batch.file.listFromTask("job-1", "env-task", { recursive: true });
    assert.deepEqual(listed.map((f) => f.name).filter((n) => !n?.endsWith("/")).sort(), ["stderr.txt", "stdout.txt", "wd", "wd/out.txt"]);
  });

  test("Job GetTaskCounts counts tasks by state and outcome", async () => {
    const counts = await batch.job.getTaskCounts("job-coll");
    assert.equal(counts.taskCounts.active + counts.taskCounts.running + counts.taskCounts.completed, 4);
  });

  test("Job Terminate answers 202, then the job completes; terminating again is 409 JobCompleted; tasks can no longer be added", async () => {
    await batch.task.add("job-2", { id: "long", commandLine: "sleep 30" });
    await waitFor("running", async () => ((await batch.task.get("job-2", "long")).state === "running" ? true : undefined));
    const answer = await batch.job.terminate("job-2", { jobTerminateOptions: {} });
    assert.equal(answer._response.status, 202);
    const job = await waitFor("job completed", async () => {
      const j = await batch.job.get("job-2");
      return j.state === "completed" ? j : undefined;
    });
    assert.equal(job.executionInfo?.terminateReason, "UserTerminate");
    // §4 Job Terminate: running tasks are terminated.
    assert.equal((await batch.task.get("job-2", "long")).state, "completed");
    assert.equal((await failure(batch.job.terminate("job-2"))).code, "JobCompleted");
    assert.equal((await failure(batch.task.add("job-2", { id: "late", commandLine: "true" }))).code, "JobCompleted");
  });

  test("Job Delete answers 202; the job is deleting (409 JobBeingDeleted) and then gone (404)", async () => {
    const answer = await batch.job.deleteMethod("job-list");
    assert.equal(answer._response.status, 202);
    const again = await failure(batch.job.deleteMethod("job-list"));
    assert.equal(again.code, "JobBeingDeleted");
    await waitFor("job gone", async () => batch.job.get("job-list").then(() => undefined, (err: { code?: string }) => (err.code === "JobNotFound" ? true : undefined)));
  });

  test("the active job quota refuses Job Add with 409 ActiveJobAndScheduleQuotaReached; completed jobs do not count", async () => {
    // Quota 4: job-1, job-coll and job-3 are active, job-2 is completed.
    await batch.job.add({ id: "job-3", poolInfo: { poolId: "pool-1" } });
    await batch.job.add({ id: "job-4", poolInfo: { poolId: "pool-1" } });
    const err = await failure(batch.job.add({ id: "job-5", poolInfo: { poolId: "pool-1" } }));
    assert.equal(err.statusCode, 409);
    assert.equal(err.code, "ActiveJobAndScheduleQuotaReached");
  });
});
