import type { HandlerContext } from "@connectrpc/connect";
import { ViewSchema, type GetTaskRequest, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
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
    // MINIMAL (the default, what Nextflow and Cromwell poll with) reads two columns; BASIC and FULL
    // reuse a view decoded earlier while the stored task is unchanged. The view may be shared and
    // frozen: it is only serialised from here on.
    const task = await deps.store.getView(request.id, callerOf(context).scope, request.view);
    if (task === undefined) throw errors.taskNotFound(request.id);
    return task;
  };
}
