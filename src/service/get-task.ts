import type { HandlerContext } from "@connectrpc/connect";
import { ViewSchema, type GetTaskRequest, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { shapeTask } from "../store/task-document.js";
import { callerOf } from "./caller-of.js";
import { checkEnumValue } from "./enum-values.js";
import { errors } from "./errors.js";
import { isPossibleTaskId } from "./task-id.js";
import type { ResolvedDeps } from "./task-service-deps.js";

/** GetTask: one task of the caller's, shaped by the view (MINIMAL by default). */
export function getTaskHandler(deps: ResolvedDeps) {
  return async (request: GetTaskRequest, context: HandlerContext): Promise<Task> => {
    checkEnumValue("view", request.view, ViewSchema);
    if (request.id === "") throw errors.fieldRequired("id");
    // Another owner's task is absent from the caller's scope: not_found, never permission_denied.
    if (!isPossibleTaskId(request.id)) throw errors.taskNotFound(request.id);
    const record = await deps.store.get(request.id, callerOf(context).scope);
    if (record === undefined) throw errors.taskNotFound(request.id);
    // The one view-shaping function, shared with the stores' list. It trims BASIC in place, which
    // is safe: a store's get hands out a task decoded for this call alone (see TaskStore.get).
    return shapeTask(record.task, request.view);
  };
}
