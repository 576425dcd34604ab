import type { DescMessage } from "@bufbuild/protobuf";
import { CancelTaskRequestSchema, CreateTaskResponseSchema, GetTaskRequestSchema } from "../gen/ga4gh/tes/v1/tes_pb.js";

/**
 * The messages whose `id` is a task's: the calls that name a task (GetTask, CancelTask) and the
 * answer that creates one (CreateTask). Other messages have ids of other things (service-info's
 * is the service's), which must not be logged or traced as a task id.
 */
const CARRIES_A_TASK_ID: ReadonlySet<string> = new Set([GetTaskRequestSchema.typeName, CancelTaskRequestSchema.typeName, CreateTaskResponseSchema.typeName]);

/** The task id a message of type `schema` carries, if it is one of those messages and has one. */
export function taskIdOf(schema: DescMessage, message: unknown): string | undefined {
  if (!CARRIES_A_TASK_ID.has(schema.typeName)) return undefined;
  const id = (message as { id?: unknown } | null | undefined)?.id;
  return typeof id === "string" && id !== "" ? id : undefined;
}
