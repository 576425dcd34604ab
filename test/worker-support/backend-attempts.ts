import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { Attempt, AttemptStatus, ComputeBackend } from "../../worker/backends/compute-backend.js";

/** The first attempt at a new QUEUED task of one core, with an executor running `true` in each of `images`. */
export function attemptWithImages(images: string[]): Attempt {
  const task = create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    creationTime: new Date().toISOString(),
    executors: images.map((image) => create(ExecutorSchema, { image, command: ["true"] })),
    resources: create(ResourcesSchema, { cpuCores: 1 }),
  });
  return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
}

/** Polls the submitted attempt every 100 ms, 300 times at most, until it has ended; answers the last status. */
export async function pollUntilEnded(backend: ComputeBackend, handle: string): Promise<AttemptStatus | undefined> {
  let status: AttemptStatus | undefined;
  for (let i = 0; i < 300 && status?.phase !== "ended"; i += 1) {
    [status] = await backend.poll([handle]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return status;
}
