import assert from "node:assert/strict";

/** The parts of TES task JSON (FULL view) the end-to-end tests read; empty lists may be left out. */
export interface TaskJson {
  id: string;
  state: string;
  logs?: {
    start_time?: string;
    end_time?: string;
    logs: { exit_code: number; stdout?: string; stderr?: string; start_time?: string; end_time?: string }[];
    outputs?: { path: string; url: string; size_bytes: string }[];
    system_logs?: string[];
  }[];
}

/** The task's last attempt's log, with its outputs and system logs as lists even when left out; fails if there is none. */
export function lastLog(task: TaskJson) {
  const log = task.logs?.at(-1);
  assert.ok(log, `task ${task.id} has no log`);
  return { ...log, outputs: log.outputs ?? [], system_logs: log.system_logs ?? [] };
}
