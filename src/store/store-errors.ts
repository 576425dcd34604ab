/**
 * The errors a TaskStore throws on purpose. Each has a stable `code` that the service maps to a
 * protocol status; the messages name what is wrong and never echo a token's or a secret's content.
 */
export abstract class TaskStoreError extends Error {
  abstract readonly code: "invalid_page_token" | "task_exists" | "task_not_found" | "terminal_state";
}

/** A page_token that this store did not write, was altered, or was issued for other filters. Maps to invalid_argument. */
export class InvalidPageTokenError extends TaskStoreError {
  override readonly name = "InvalidPageTokenError";
  readonly code = "invalid_page_token";
}

/** insert() with an id that is already stored. The service assigns fresh ids, so this is a bug or a replay. */
export class TaskExistsError extends TaskStoreError {
  override readonly name = "TaskExistsError";
  readonly code = "task_exists";
  constructor(readonly taskId: string) {
    super(`task ${taskId} already exists`);
  }
}

/** update() of a task that does not exist. Maps to not_found. */
export class TaskNotFoundError extends TaskStoreError {
  override readonly name = "TaskNotFoundError";
  readonly code = "task_not_found";
  constructor(readonly taskId: string) {
    super(`task ${taskId} does not exist`);
  }
}

/** update() that would move a task out of a terminal state. Maps to failed_precondition. */
export class TerminalStateError extends TaskStoreError {
  override readonly name = "TerminalStateError";
  readonly code = "terminal_state";
  constructor(
    readonly taskId: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`task ${taskId} is ${from}, a terminal state, and cannot become ${to}`);
  }
}
