import { clone, create } from "@bufbuild/protobuf";
import {
  ExecutorLogSchema,
  OutputFileLogSchema,
  State,
  TaskLogSchema,
  TaskSchema,
} from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { ALL, type TaskStore } from "../../store/task-store.js";

/**
 * Moves a stored task as the worker would (compare-and-set through the store), so that service
 * tests can read and cancel tasks in every state, with logs that hold every view-sensitive field.
 */
export async function advanceTask(
  store: TaskStore,
  id: string,
  state: State,
  options: { backendHandle?: string; withLogs?: boolean } = {},
): Promise<void> {
  const record = await store.get(id, ALL);
  if (record === undefined) throw new Error(`no task ${id}`);
  const task = clone(TaskSchema, record.task);
  task.state = state;
  if (options.withLogs) {
    task.logs = [
      create(TaskLogSchema, {
        startTime: "2026-11-28T05:00:01.000Z",
        endTime: "2026-11-28T05:00:09.000Z",
        metadata: { node: "n1" },
        systemLogs: ["pulled image alpine"],
        logs: [
          create(ExecutorLogSchema, {
            exitCode: 0,
            stdout: "hello\n",
            stderr: "warning\n",
            startTime: "2026-11-28T05:00:02.000Z",
            endTime: "2026-11-28T05:00:03.000Z",
          }),
        ],
        outputs: [create(OutputFileLogSchema, { url: "s3://b/out/a", path: "/out/a", sizeBytes: 1024n })],
      }),
    ];
  }
  const updated = await store.update(id, record.version, {
    task,
    ...(options.backendHandle !== undefined && { backendHandle: options.backendHandle }),
  });
  if (updated === undefined) throw new Error(`task ${id} changed while the test moved it`);
}
