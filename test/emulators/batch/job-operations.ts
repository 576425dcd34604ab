import type { Json, JobRecord, TaskRecord } from "./account-model.js";
import { errors } from "./batch-error.js";
import { asObject, environmentSettings, optionalBoolean, optionalDuration, optionalEnum, optionalInteger, optionalString, refuseUnemulated, requireId, requireObject, requireString } from "./request-validation.js";
import type { AccountState } from "./account-state.js";
import { endByService, stopRun } from "./task-runs.js";

/**
 * Jobs (§3): Job Add, Terminate, Delete, GetTaskCounts, and the job states that refuse task calls.
 */
export function addJob(account: AccountState, body: Json): JobRecord {
  const id = requireId(body);
  const poolInfo = requireObject(body, "poolInfo");
  refuseUnemulated(poolInfo, ["autoPoolSpecification"], "poolInfo.");
  const poolId = requireString(poolInfo, "poolId", "poolInfo.poolId");
  refuseUnemulated(body, ["jobManagerTask", "jobPreparationTask", "jobReleaseTask", "networkConfiguration"]);
  optionalEnum(body, "onAllTasksComplete", ["noaction", "terminatejob"] as const);
  optionalEnum(body, "onTaskFailure", ["noaction", "performexitoptionsjobaction"] as const);
  optionalInteger(body, "priority", { min: -1000, max: 1000 });
  optionalInteger(body, "maxParallelTasks", { min: -1, max: 1_000_000 });
  if (optionalBoolean(body, "usesTaskDependencies") === true) refuseUnemulated(body, ["usesTaskDependencies"]);
  const constraints = body.constraints === undefined || body.constraints === null ? {} : asObject(body.constraints, "constraints");
  optionalDuration(constraints, "maxWallClockTime", "constraints.maxWallClockTime");
  optionalInteger(constraints, "maxTaskRetryCount", { min: -1, max: 1_000_000 }, "constraints.maxTaskRetryCount");
  environmentSettings(body, "commonEnvironmentSettings");
  if (account.jobs.has(id.toLowerCase())) throw errors.jobExists();
  if (account.activeJobCount() >= account.config.quotas.activeJobs) throw errors.activeJobAndScheduleQuotaReached();
  const now = account.now();
  const job: JobRecord = {
    ...account.freshStamp(),
    id,
    spec: body,
    poolId,
    creationTime: now,
    state: "active",
    stateTransitionTime: now,
    executionInfo: { startTime: now, poolId },
    tasks: new Map(),
    queue: [],
    taskSequence: 0,
  };
  account.jobs.set(id.toLowerCase(), job);
  return job;
}

export function setJobState(account: AccountState, job: JobRecord, state: JobRecord["state"]): void {
  job.previousState = job.state;
  job.previousStateTransitionTime = job.stateTransitionTime;
  job.state = state;
  job.stateTransitionTime = account.now();
  account.stamp(job);
}

export function terminateJob(account: AccountState, id: string, body: Json): void {
  const job = account.getJob(id);
  const reason = optionalString(body, "terminateReason") ?? "UserTerminate";
  if (job.state === "completed") throw errors.jobCompleted();
  if (job.state === "terminating") throw errors.jobBeingTerminated();
  if (job.state === "deleting") throw errors.jobBeingDeleted();
  job.executionInfo.terminateReason = reason;
  setJobState(account, job, "terminating");
  job.stepDueAtMs = Date.now() + account.config.timing.deleteMs;
  // §4 Job Terminate: running tasks are terminated; active tasks stay active and never run.
  for (const task of job.tasks.values()) {
    if (task.state === "running" || task.state === "preparing") endByService(account, task, "TaskEnded", "Task was ended by user request");
  }
}

export function deleteJob(account: AccountState, id: string): void {
  const job = account.getJob(id);
  if (job.state === "deleting") throw errors.jobBeingDeleted();
  setJobState(account, job, "deleting");
  job.stepDueAtMs = Date.now() + account.config.timing.deleteMs;
  for (const task of job.tasks.values()) stopRun(account, task);
}

/** A job that accepts task calls: §3 Task Add errors for the other states. */
export function jobForTasks(account: AccountState, id: string): JobRecord {
  const job = account.getJob(id);
  if (job.state === "deleting") throw errors.jobBeingDeleted();
  return job;
}

export function jobAcceptingTasks(account: AccountState, id: string): JobRecord {
  const job = jobForTasks(account, id);
  if (job.state === "completed") throw errors.jobCompleted();
  if (job.state === "terminating") throw errors.jobBeingTerminated();
  if (job.state !== "active") throw errors.jobNotActive();
  return job;
}

export function taskCounts(account: AccountState, id: string): Json {
  const job = jobForTasks(account, id);
  const counts = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
  const slots = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
  for (const task of job.tasks.values()) {
    const key = task.state === "preparing" ? "running" : task.state;
    counts[key] += 1;
    slots[key] += task.requiredSlots;
    if (task.state === "completed") {
      const outcome = task.execution.result === "success" ? "succeeded" : "failed";
      counts[outcome] += 1;
      slots[outcome] += task.requiredSlots;
    }
  }
  return { taskCounts: counts, taskSlotCounts: slots };
}

export function afterTaskCompleted(account: AccountState, task: TaskRecord): void {
  const job = task.job;
  if (String(job.spec.onAllTasksComplete ?? "noaction").toLowerCase() === "terminatejob" && job.state === "active") {
    if ([...job.tasks.values()].every((t) => t.state === "completed")) {
      job.executionInfo.terminateReason = "AllTasksComplete";
      setJobState(account, job, "terminating");
      job.stepDueAtMs = Date.now() + account.config.timing.deleteMs;
    }
  }
}
