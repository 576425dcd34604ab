import type { State, Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import type { FollowedTask, TaskRecord } from "./task-store.js";

/**
 * The bookkeeping columns of a tasks row as both drivers hand them over. updated_at is not here:
 * SQLite keeps it as epoch milliseconds, PostgreSQL as a timestamptz, so each store converts its own.
 */
export interface BookkeepingRow {
  owner: string;
  version: number;
  backend_handle: string;
  trace_context: string;
}

export function taskRecordOf(task: Task, row: BookkeepingRow, updatedAt: Date): TaskRecord {
  return {
    task,
    owner: row.owner,
    version: row.version,
    backendHandle: row.backend_handle,
    updatedAt,
    traceContext: row.trace_context,
  };
}

/** What findFollowed reads: bookkeeping only, so the documents, most of each row, stay on disk. */
export const FOLLOWED_COLUMNS = "id, state, version, backend_handle, trace_context";

export interface FollowedRow {
  id: string;
  state: State;
  version: number;
  backend_handle: string;
  trace_context: string;
}

export function followedTaskOf(row: FollowedRow): FollowedTask {
  return {
    id: row.id,
    state: row.state,
    version: row.version,
    backendHandle: row.backend_handle,
    traceContext: row.trace_context,
  };
}
