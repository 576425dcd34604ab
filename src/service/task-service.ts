import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { TaskService } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { cancelTaskHandler } from "./cancel-task.js";
import { createTaskHandler } from "./create-task.js";
import { errors, fromStoreError } from "./errors.js";
import { getServiceInfoHandler } from "./get-service-info.js";
import { getTaskHandler } from "./get-task.js";
import { listTasksHandler } from "./list-tasks.js";
import { newTaskId } from "./task-id.js";
import type { ResolvedDeps, TaskServiceDeps } from "./task-service-deps.js";

export type { TaskServiceDeps } from "./task-service-deps.js";

/**
 * The TES 1.1 service: one implementation that gRPC, gRPC-Web, Connect and the REST transcoder all
 * call. Handlers read the caller from the context (callerKey) and hand its scope to every store
 * read and its owner to every insert.
 */
export function createTaskService(deps: TaskServiceDeps): ServiceImpl<typeof TaskService> {
  // `??` rather than spreading defaults: an optional dep passed as undefined still gets its default.
  const resolved: ResolvedDeps = {
    ...deps,
    clock: deps.clock ?? (() => new Date()),
    admit: deps.admit ?? (async () => []),
    newTaskId: deps.newTaskId ?? newTaskId,
  };
  const guard = errorBoundary(resolved);
  return {
    getServiceInfo: guard("GetServiceInfo", getServiceInfoHandler(resolved)),
    listTasks: guard("ListTasks", listTasksHandler(resolved)),
    createTask: guard("CreateTask", createTaskHandler(resolved)),
    getTask: guard("GetTask", getTaskHandler(resolved)),
    cancelTask: guard("CancelTask", cancelTaskHandler(resolved)),
  };
}

/**
 * Errors meant for the client (ConnectErrors, our TesErrors, the store's own errors such as a bad
 * page token) reach it with their code; anything else, such as a store driver's error, is logged in full and answered with a plain internal error, so that no
 * connection string, SQL or stack trace reaches a client.
 */
function errorBoundary(deps: ResolvedDeps) {
  return <I, O>(rpc: string, handler: (request: I, context: HandlerContext) => Promise<O>) =>
    async (request: I, context: HandlerContext): Promise<O> => {
      try {
        return await handler(request, context);
      } catch (error) {
        if (error instanceof ConnectError) throw error;
        const meant = fromStoreError(error);
        if (meant !== undefined) throw meant;
        deps.logger.error({ err: error, rpc }, `${rpc} failed`);
        throw errors.internal(rpc);
      }
    };
}
