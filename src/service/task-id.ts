import { v7 as uuidv7 } from "uuid";

/**
 * A new task id: a UUIDv7, lowercase. Its leading 48 bits are the creation time in milliseconds,
 * so ids sort by creation; it holds no "/" or ":", which the REST paths (/tasks/{id}:cancel) need.
 */
export function newTaskId(): string {
  return uuidv7();
}

/** Longer than any id this service issues, with margin for ids imported from elsewhere. */
export const MAX_TASK_ID_LENGTH = 128;

/** Whether `id` could name a task; anything else cannot exist, so the store is not asked. */
export function isPossibleTaskId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_TASK_ID_LENGTH && !/[/:\0]/.test(id);
}
