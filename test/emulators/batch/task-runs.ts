import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Json, NodeRecord, TaskExecution, TaskRecord } from "./account-model.js";
import { startProcess, type ProcessOutcome } from "./node-process.js";
import { environmentSettings } from "./request-validation.js";
import type { AccountState } from "./account-state.js";
import { afterNodeTaskEnded, recordRecentTask, setNodeState } from "./compute-nodes.js";
import { afterTaskCompleted } from "./job-operations.js";
import { environment } from "./node-environment.js";
import { taskDir as taskDirOf } from "./task-operations.js";

/**
 * Task runs (§4): a task started on a node as a local process, its outcome (success, exit code with
 * retries, wall clock, launch failure), requeues and ends by the service.
 */
export function setTaskState(account: AccountState, task: TaskRecord, state: TaskRecord["state"]): void {
  task.previousState = task.state;
  task.previousStateTransitionTime = task.stateTransitionTime;
  task.state = state;
  task.stateTransitionTime = account.now();
  account.stamp(task);
}

/** Detaches a task from its node and stops its process, leaving the task's state to the caller. */
export function stopRun(account: AccountState, task: TaskRecord): void {
  task.runId += 1;
  task.process?.kill();
  task.process = undefined;
  const node = task.node;
  if (node !== undefined) {
    node.running.delete(task);
    task.node = undefined;
    recordRecentTask(account, node, task);
    afterNodeTaskEnded(account, node);
  }
}

export function requeue(account: AccountState, task: TaskRecord, countRequeue: boolean): void {
  const node = task.node;
  stopRun(account, task);
  if (countRequeue) {
    task.execution.requeueCount += 1;
    task.execution.lastRequeueTime = account.now();
  }
  setTaskState(account, task, "active");
  if (node !== undefined) recordRecentTask(account, node, task);
  task.job.queue.push(task);
}

/** The service ends a task (terminate, job terminate, wall clock, removed node). */
export function endByService(account: AccountState, task: TaskRecord, code: string, message: string, category: "userError" | "serverError" = "userError"): void {
  const wasRunning = task.state === "running" || task.state === "preparing";
  const node = task.node;
  stopRun(account, task);
  const now = account.now();
  const execution: TaskExecution = { ...task.execution, endTime: now, result: "failure", failureInfo: { category, code, message, details: [] } };
  // §4 Task Terminate: the exit code is OS-defined; a killed process here reports 128 + SIGKILL.
  if (wasRunning) execution.exitCode = 137;
  task.execution = execution;
  setTaskState(account, task, "completed");
  if (node !== undefined) recordRecentTask(account, node, task);
  afterTaskCompleted(account, task);
}

export function runTask(account: AccountState, task: TaskRecord, node: NodeRecord): void {
  const job = task.job;
  task.runId += 1;
  const runId = task.runId;
  task.node = node;
  task.filesNode = node;
  node.running.add(task);
  node.totalTasksRun += 1;
  setNodeState(account, node, "running");
  // A new run clears the previous run's outcome; the retry and requeue history stays.
  const { retryCount, requeueCount, lastRetryTime, lastRequeueTime } = task.execution;
  task.execution = { retryCount, requeueCount, startTime: account.now() };
  if (lastRetryTime !== undefined) task.execution.lastRetryTime = lastRetryTime;
  if (lastRequeueTime !== undefined) task.execution.lastRequeueTime = lastRequeueTime;
  setTaskState(account, task, "running");
  const taskDir = taskDirOf(account, task) as string;
  const workingDir = join(taskDir, "wd");
  const fault = account.config.faults.takeTask(task.id);
  const containerPool = (node.pool.spec.virtualMachineConfiguration as Json | undefined)?.containerConfiguration !== undefined;
  const failNow = (code: string, message: string, category: "userError" | "serverError") => {
    setImmediate(() => {
      if (task.runId !== runId) return;
      finishRun(account, task, node, { kind: "launch-failed", code, message }, category);
    });
  };
  void mkdir(workingDir, { recursive: true });
  if (fault !== undefined) {
    failNow(fault.code, fault.message ?? `The task failed with ${fault.code}`, fault.category ?? "userError");
    return;
  }
  if (containerPool && (task.spec.containerSettings === undefined || task.spec.containerSettings === null)) {
    // §4: a container-enabled node requires task container settings.
    failNow("ContainerTaskSettingsNotFound", "Container-enabled compute node requires task container settings", "userError");
    return;
  }
  const env = environment(account, 
    node,
    {
      AZ_BATCH_JOB_ID: job.id,
      AZ_BATCH_TASK_ID: task.id,
      AZ_BATCH_TASK_DIR: taskDir,
      AZ_BATCH_TASK_WORKING_DIR: workingDir,
      AZ_BATCH_CERTIFICATES_DIR: join(taskDir, "certs"),
      AZ_BATCH_TASK_USER: "_azbatch",
      AZ_BATCH_TASK_USER_IDENTITY: "PoolNonAdmin",
    },
    [...environmentSettings(job.spec, "commonEnvironmentSettings"), ...environmentSettings(task.spec, "environmentSettings")],
  );
  const wrap = account.config.wrapCommand;
  const proc = startProcess({
    commandLine: task.spec.commandLine as string,
    taskDir,
    workingDir,
    env,
    resourceFiles: (Array.isArray(task.spec.resourceFiles) ? task.spec.resourceFiles : []) as { httpUrl: string; filePath: string }[],
    maxWallClockMs: task.maxWallClockMs,
    ...(wrap === undefined ? {} : { wrapCommand: (argv: string[]) => wrap(argv, { poolId: node.pool.id, nodeId: node.id, jobId: job.id, taskId: task.id }) }),
  });
  task.process = proc;
  void proc.done.then(
    (outcome) => {
      if (task.runId === runId && !account.stopped) finishRun(account, task, node, outcome);
    },
    (err: unknown) => {
      if (task.runId === runId && !account.stopped) finishRun(account, task, node, { kind: "launch-failed", code: "CommandLaunchFailed", message: String(err) });
    },
  );
}

export function finishRun(account: AccountState, task: TaskRecord, node: NodeRecord, outcome: ProcessOutcome, category: "userError" | "serverError" = "userError"): void {
  if (outcome.kind === "killed") return;
  task.process = undefined;
  task.runId += 1;
  node.running.delete(task);
  task.node = undefined;
  const now = account.now();
  const execution: TaskExecution = { ...task.execution, endTime: now };
  if (outcome.kind === "exited" && outcome.exitCode === 0) {
    execution.exitCode = 0;
    execution.result = "success";
    node.totalTasksSucceeded += 1;
  } else if (outcome.kind === "exited") {
    const retriesLeft = task.maxTaskRetryCount === -1 || task.execution.retryCount < task.maxTaskRetryCount;
    if (retriesLeft) {
      // §4: exit ≠ 0 with retries left goes back to active, retryCount + 1.
      task.execution = { ...task.execution, retryCount: task.execution.retryCount + 1, lastRetryTime: now };
      setTaskState(account, task, "active");
      task.job.queue.push(task);
      recordRecentTask(account, node, task);
      afterNodeTaskEnded(account, node);
      return;
    }
    execution.exitCode = outcome.exitCode;
    execution.result = "failure";
    execution.failureInfo = {
      category: "userError",
      code: "FailureExitCode",
      message: "The task exited with an exit code representing a failure",
      details: [{ name: "Message", value: "The task exited with an exit code representing a failure" }],
    };
  } else if (outcome.kind === "timed-out") {
    execution.exitCode = outcome.exitCode;
    execution.result = "failure";
    execution.failureInfo = { category: "serverError", code: "TaskEnded", message: "The task was ended because it exceeded its maximum wall clock time", details: [] };
  } else {
    // Pre-processing and launch failures are not retried (§4).
    execution.result = "failure";
    execution.failureInfo = { category, code: outcome.code, message: outcome.message, details: [] };
  }
  task.execution = execution;
  setTaskState(account, task, "completed");
  recordRecentTask(account, node, task);
  afterNodeTaskEnded(account, node);
  afterTaskCompleted(account, task);
}
