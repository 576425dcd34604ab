import { clone } from "@bufbuild/protobuf";
import { TaskSchema, type Task } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { Attempt, BackendCapabilities } from "./backends/compute-backend.js";
import { attemptId, currentAttemptIndex } from "./task-state-machine.js";

/**
 * The current attempt of a task, as the backend receives it: backend_parameters reduced to the keys
 * the backend accepts, in their canonical spelling (create already refused unknown keys when the
 * task asked for strictness; the others are dropped here).
 */
export function buildAttempt(task: Task, capabilities: BackendCapabilities): Attempt {
  const attempt = currentAttemptIndex(task);
  if (attempt < 0) throw new Error(`task ${task.id} has no attempt to submit`);
  return { taskId: task.id, attempt, attemptId: attemptId(task.id, attempt), task: reduceBackendParameters(task, capabilities) };
}

function reduceBackendParameters(task: Task, capabilities: BackendCapabilities): Task {
  const given = task.resources?.backendParameters;
  if (given === undefined || Object.keys(given).length === 0) return task;
  const canonical = new Map(capabilities.backendParameters.map((key) => [key.toLowerCase(), key]));
  const reduced: Record<string, string> = {};
  for (const [key, value] of Object.entries(given)) {
    const name = canonical.get(key.toLowerCase());
    if (name !== undefined) reduced[name] = value;
  }
  const next = clone(TaskSchema, task);
  if (next.resources !== undefined) next.resources.backendParameters = reduced;
  return next;
}
