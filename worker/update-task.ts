import type { Logger } from "pino";
import { State } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { instruments } from "../src/telemetry/instruments.js";
import { ALL, type TaskChange, type TaskRecord, type TaskStore } from "../src/store/task-store.js";

/** Where the worker writes tasks, and where it tells that a task changed state (worker-context.ts). */
export interface TaskWriter {
  readonly store: TaskStore;
  readonly logger: Logger;
}

/** What a decision returns: the change to write (none to leave the task alone) and what it means. */
export interface Decision<E> {
  change?: TaskChange;
  effect: E;
}

export interface Decided<E> {
  /** The task as stored after the decision (the written record, or the one read when nothing changed). */
  record: TaskRecord;
  effect: E;
}

const TERMINAL = new Set([State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.CANCELED, State.PREEMPTED]);

/** How many times one decision is retried against a task that keeps changing under it. */
const MAX_CONFLICTS = 50;

/**
 * Reads a task, decides, and writes the decision with a compare-and-set; when another writer got
 * there first, reads again and decides again on what is there now. `decide` must be pure: it may
 * run several times. Starts from `known` when the caller has just read the task. Undefined when
 * the task does not exist. Every write that changes the task's state is logged here, once: this is
 * the one place the worker writes task states.
 */
export async function updateTask<E>(
  writer: TaskWriter,
  taskId: string,
  decide: (record: TaskRecord) => Decision<E>,
  known?: TaskRecord,
): Promise<Decided<E> | undefined> {
  const { store } = writer;
  let record = known ?? (await store.get(taskId, ALL));
  for (let conflicts = 0; record !== undefined; conflicts++) {
    const decision = decide(record);
    if (decision.change === undefined) return { record, effect: decision.effect };
    const written = await store.update(taskId, record.version, decision.change);
    if (written !== undefined) {
      if (written.task.state !== record.task.state) logStateChange(writer.logger, record, written);
      return { record: written, effect: decision.effect };
    }
    if (conflicts >= MAX_CONFLICTS) {
      throw new Error(`task ${taskId} changed ${MAX_CONFLICTS} times while one decision was being written`);
    }
    record = await store.get(taskId, ALL);
  }
  return undefined;
}

/**
 * One line per state change (the task, both states, the attempt and the backend's handle), and its
 * metrics: the transition, and for an ended attempt the bytes its outputs uploaded and whether a
 * transfer failed, as the result the worker read back reports them. Written once per change (the
 * compare-and-set), so the counts are exact.
 */
function logStateChange(logger: Logger, before: TaskRecord, after: TaskRecord): void {
  const from = State[before.task.state]!;
  const to = State[after.task.state]!;
  const meters = instruments();
  meters.taskTransitions.add(1, { from, to });
  if (TERMINAL.has(after.task.state)) {
    const last = after.task.logs.at(-1);
    const bytes = (last?.outputs ?? []).reduce((sum, output) => sum + Number(output.sizeBytes || 0), 0);
    if (bytes > 0) meters.outputBytes.add(bytes, { state: to });
    if ((last?.systemLogs ?? []).some((line) => /\b(download|upload|transfer)/i.test(line)) && after.task.state !== State.COMPLETE) {
      meters.transferFailures.add(1, { state: to });
    }
  }
  logger.info(
    {
      taskId: after.task.id,
      from,
      to,
      attempt: Math.max(0, after.task.logs.length - 1),
      backendHandle: after.backendHandle || undefined,
    },
    "task state changed",
  );
}
