import { ALL, type TaskChange, type TaskRecord, type TaskStore } from "../src/store/task-store.js";

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

/** How many times one decision is retried against a task that keeps changing under it. */
const MAX_CONFLICTS = 50;

/**
 * Reads a task, decides, and writes the decision with a compare-and-set; when another writer got
 * there first, reads again and decides again on what is there now. `decide` must be pure: it may
 * run several times. Starts from `known` when the caller has just read the task. Undefined when
 * the task does not exist.
 */
export async function updateTask<E>(
  store: TaskStore,
  taskId: string,
  decide: (record: TaskRecord) => Decision<E>,
  known?: TaskRecord,
): Promise<Decided<E> | undefined> {
  let record = known ?? (await store.get(taskId, ALL));
  for (let conflicts = 0; record !== undefined; conflicts++) {
    const decision = decide(record);
    if (decision.change === undefined) return { record, effect: decision.effect };
    const written = await store.update(taskId, record.version, decision.change);
    if (written !== undefined) return { record: written, effect: decision.effect };
    if (conflicts >= MAX_CONFLICTS) {
      throw new Error(`task ${taskId} changed ${MAX_CONFLICTS} times while one decision was being written`);
    }
    record = await store.get(taskId, ALL);
  }
  return undefined;
}
