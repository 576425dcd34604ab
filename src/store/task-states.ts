import { State } from "../gen/ga4gh/tes/v1/tes_pb.js";

/**
 * States a task never leaves. PREEMPTED is among them because retries after a preemption happen
 * before it is recorded: the worker re-queues an attempt and sets PREEMPTED only when it gives up.
 */
export const TERMINAL_STATES: readonly State[] = [
  State.COMPLETE,
  State.EXECUTOR_ERROR,
  State.SYSTEM_ERROR,
  State.CANCELED,
  State.PREEMPTED,
];

export function isTerminal(state: State): boolean {
  return TERMINAL_STATES.includes(state);
}

export function stateName(state: State): string {
  return State[state] ?? String(state);
}
