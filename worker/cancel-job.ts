import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { ALL } from "../src/store/task-store.js";
import { linkActiveSpanToTask } from "../src/telemetry/task-trace.js";
import { buildAttempt } from "./build-attempt.js";
import { cancelFinished, hasPendingAttempt } from "./task-state-machine.js";
import { updateTask } from "./update-task.js";
import type { WorkerContext } from "./worker-context.js";

/**
 * A cancel job: stops a CANCELING task's attempt on the backend, then marks it CANCELED. When no
 * handle was recorded but an attempt was begun, a worker may have died between submitting it and
 * recording it: submitting the same attempt id again returns that handle (or starts an attempt
 * that is stopped at once), so no attempt outlives its cancel.
 */
export async function runCancelJob(context: WorkerContext, taskId: string): Promise<void> {
  for (let round = 0; ; round++) {
    const record = await context.store.get(taskId, ALL);
    if (record === undefined || record.task.state !== State.CANCELING) return;
    // This job continues the CancelTask call's trace; the link leads to the task's own (CreateTask's).
    if (round === 0) linkActiveSpanToTask(record.traceContext);

    let handle = record.backendHandle;
    if (hasPendingAttempt(record.task, handle)) {
      const outcome = await context.submitter.submit(buildAttempt(record.task, context.backend.capabilities));
      if (outcome.kind === "submitted") handle = outcome.handle;
    }
    if (handle !== "") await context.backend.cancel([handle]);

    const now = new Date();
    const decided = await updateTask<"canceled" | "gone" | "new-handle">(
      context,
      taskId,
      (current) => {
        if (current.task.state !== State.CANCELING) return { effect: "gone" };
        // A submitter recorded a handle this cancel has not stopped: start over with it.
        if (current.backendHandle !== "" && current.backendHandle !== handle) return { effect: "new-handle" };
        return { change: { task: cancelFinished(current.task, now), backendHandle: handle }, effect: "canceled" };
      },
      record,
    );
    if (decided?.effect === "new-handle") continue;
    if (decided?.effect === "canceled" && handle !== "") await context.backend.release([handle]);
    return;
  }
}
