import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  FileType,
  State,
  TaskLogSchema,
  type CreateTaskResponseSchema,
  type Task,
} from "../gen/ga4gh/tes/v1/tes_pb.js";
import { droppedParametersWarning, reduceBackendParameters } from "./backend-parameters.js";
import { enqueueInBackground } from "./enqueue-in-background.js";
import { callerOf } from "./caller-of.js";
import { activeTraceparent } from "../telemetry/task-trace.js";
import { errors } from "./errors.js";
import type { ResolvedDeps } from "./task-service-deps.js";
import { rfc3339 } from "./timestamps.js";
import { validateTask } from "./validate-task.js";

/**
 * CreateTask: validate, store the task FULL as QUEUED, then tell the queue (without waiting for
 * it). Answers `{id}` only. Nothing is stored when the task is refused.
 */
export function createTaskHandler(deps: ResolvedDeps) {
  return async (request: Task, context: HandlerContext): Promise<MessageInitShape<typeof CreateTaskResponseSchema>> => {
    validateTask(request, deps.limits);
    const problems = await deps.admit(request);
    if (problems.length > 0) throw errors.refusedByBackend(problems);
    const supported = deps.backend.backendParameters;
    const parameters = reduceBackendParameters(
      request.resources?.backendParameters ?? {},
      supported,
      request.resources?.backendParametersStrict ?? false,
    );

    // The request message is this call's own (decoded for it alone), so it becomes the stored task
    // in place, without a copy.
    const task = request;
    // id, state, logs and creation_time are read-only in TES: whatever the client sent is replaced.
    task.id = deps.newTaskId();
    task.state = State.QUEUED;
    task.creationTime = rfc3339(deps.clock());
    task.logs = [];
    // An input without a type is fetched as a file, so it is one. What an output is, the run finds
    // out: left unset here, it is filled in from what was uploaded when the attempt ends.
    for (const input of task.inputs) input.type ??= FileType.FILE;
    if (task.resources !== undefined) task.resources.backendParameters = parameters.kept;
    if (parameters.dropped.length > 0) {
      // TES wants the ignored keys reported in system_logs. Before any attempt has run, the only
      // place is a first TaskLog, with empty logs and outputs (both required, both empty so far).
      // logs[i] is attempt i's entry: the worker's submit finds this one already there and uses it
      // for attempt 0 instead of adding one; CancelTask treats it as an attempt that may have begun.
      const warning = droppedParametersWarning(parameters.dropped, deps.backend.name, supported);
      task.logs = [create(TaskLogSchema, { systemLogs: [warning] })];
    }

    // The CreateTask span's traceparent stays with the task: the worker's later work joins its trace.
    await deps.store.insert(task, callerOf(context).owner, activeTraceparent());

    // Decision: the store is the truth and the task is safely QUEUED there. The worker's recovery
    // sweep re-enqueues QUEUED tasks that have no job, so a queue outage delays the task but does
    // not fail the request, and the client never retries into a duplicate task.
    enqueueInBackground(
      () => deps.queue.enqueueSubmit(task.id),
      (error) => deps.logger.warn({ err: error, taskId: task.id }, "task stored but not enqueued; the recovery sweep will enqueue it"),
    );
    return { id: task.id };
  };
}
