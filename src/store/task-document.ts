import { create, fromBinary } from "@bufbuild/protobuf";
import { TaskSchema, View, type State, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { compileBinaryEncoder } from "./binary-encoder.js";

/**
 * How a task is kept in a store row: protobuf binary. Measured on this machine (@bufbuild/protobuf
 * 2.13), a 3 kB task (two inputs, one executor, one log with 2.5 kB of output tails): binary is 3044
 * bytes, decodes in 16 µs; proto3 JSON is 3396 bytes, decodes in 46 µs. A 370-byte task: binary
 * decodes in 13-20 µs, JSON in 26 µs. Reads (GetTask polling, list pages of up to 2047 tasks) far
 * outnumber writes, so binary wins. Writing it was the slower way with protobuf-es's toBinary
 * (40-58 µs against JSON's 8-16 µs for those tasks); the compiled encoder writes the same bytes
 * in 1.8-2.9 µs for CreateTask's bench task, against toBinary's 11-15 µs (binary-encoder.ts).
 */
export const encodeTask: (task: Task) => Uint8Array = compileBinaryEncoder(TaskSchema);

export function decodeTask(bytes: Uint8Array): Task {
  return fromBinary(TaskSchema, bytes);
}

/** The MINIMAL view, built from two columns without touching the document. */
export function minimalTask(id: string, state: State): Task {
  return create(TaskSchema, { id, state });
}

/**
 * Shapes a FULL task for a view, in place. BASIC drops executor stdout/stderr, input content and
 * system_logs (the large, free-text parts); MINIMAL keeps id and state only.
 */
export function shapeTask(task: Task, view: View): Task {
  if (view === View.MINIMAL) return minimalTask(task.id, task.state);
  if (view === View.BASIC) {
    for (const input of task.inputs) input.content = "";
    for (const attempt of task.logs) {
      attempt.systemLogs = [];
      for (const executorLog of attempt.logs) {
        executorLog.stdout = "";
        executorLog.stderr = "";
      }
    }
  }
  return task;
}
