import type { State } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { TaskNotFoundError, TerminalStateError } from "./store-errors.js";
import { isTerminal, stateName } from "./task-states.js";

/** The task's version and state, read just after an update() that changed nothing. */
export interface VersionAndState {
  version: number;
  state: number;
}

/**
 * Why an update() changed nothing, so that a caller never retries forever what can never succeed:
 * an unknown id throws TaskNotFoundError, a move out of the terminal state the task is in throws
 * TerminalStateError. Otherwise the version moved on, and the answer is undefined (re-read, decide again).
 */
export function explainMissedUpdate(
  id: string,
  expectedVersion: number,
  wantedState: State,
  current: VersionAndState | undefined,
): undefined {
  if (current === undefined) throw new TaskNotFoundError(id);
  if (current.version === expectedVersion && isTerminal(current.state as State)) {
    throw new TerminalStateError(id, stateName(current.state as State), stateName(wantedState));
  }
  return undefined;
}
