import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { LimitsConfig } from "../config/limits.js";
import {
  StateSchema,
  ViewSchema,
  type ListTasksRequest,
  type ListTasksResponseSchema,
} from "../gen/ga4gh/tes/v1/tes_pb.js";
import { callerOf } from "./caller-of.js";
import { checkEnumValue } from "./enum-values.js";
import { errors } from "./errors.js";
import { zipTagFilter } from "./tag-filter.js";
import type { ResolvedDeps } from "./task-service-deps.js";
import { checkBytes, checkNoNul } from "./text-limits.js";

/** ListTasks: the caller's tasks, newest first, filtered, keyset-paged, shaped by the view. */
export function listTasksHandler(deps: ResolvedDeps) {
  return async (
    request: ListTasksRequest,
    context: HandlerContext,
  ): Promise<MessageInitShape<typeof ListTasksResponseSchema>> => {
    checkEnumValue("view", request.view, ViewSchema);
    if (request.state !== undefined) checkEnumValue("state", request.state, StateSchema);
    checkBytes("name_prefix", request.namePrefix, deps.limits.maxNameBytes);
    checkNoNul("name_prefix", request.namePrefix);
    const pageSize = resolvePageSize(request.pageSize, deps.limits);
    const tags = zipTagFilter(request.tagKey, request.tagValue, deps.limits);

    // The store shapes the page by the view (MINIMAL straight from its columns) and owns the page
    // token: it binds the token to these filters and the caller's scope, and refuses any other with
    // InvalidPageTokenError, which the error boundary answers as invalid_argument.
    const page = await deps.store.list(
      {
        ...(request.namePrefix !== "" && { namePrefix: request.namePrefix }),
        ...(request.state !== undefined && { state: request.state }),
        ...(tags.length > 0 && { tags }),
        ...(request.pageToken !== "" && { pageToken: request.pageToken }),
        pageSize,
        view: request.view,
      },
      callerOf(context).scope,
    );
    return { tasks: page.tasks, nextPageToken: page.nextPageToken ?? "" };
  };
}

/** TES: "Must be less than 2048. Defaults to 256." 0 (proto3's "unset") means the default. */
function resolvePageSize(requested: number, limits: LimitsConfig): number {
  if (requested === 0) return limits.defaultPageSize;
  if (requested < 0) throw errors.pageSizeNegative(requested);
  if (requested > limits.maxPageSize) throw errors.pageSizeTooLarge(limits.maxPageSize, requested);
  return requested;
}
