import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { TaskSchema, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";

/** A TES task from its JSON form (as the REST API answers it); unknown fields are an error. */
export function parseTaskDocument(text: string): Task {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  const task = fromJson(TaskSchema, json);
  if (task.executors.length === 0) throw new Error("the task has no executors");
  return task;
}
