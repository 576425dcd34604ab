import type { Migration } from "../migration.js";

/**
 * The SQLite schema, one numbered step at a time. Times are integer milliseconds since the epoch;
 * states are the TES State enum's numbers; the task itself is protobuf binary (task-document.ts).
 * Text compares with the BINARY collation, i.e. in code-point order, which name prefixes rely on.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "tasks and task tags",
    sql: `
      CREATE TABLE tasks (
        id TEXT NOT NULL PRIMARY KEY,
        owner TEXT NOT NULL,
        state INTEGER NOT NULL,
        name TEXT NOT NULL,
        creation_time TEXT NOT NULL,
        version INTEGER NOT NULL,
        backend_handle TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        document BLOB NOT NULL
      );
      -- Listing, newest first, in one owner's scope; with a state filter, with or without a scope.
      CREATE INDEX tasks_owner_id ON tasks (owner, id);
      CREATE INDEX tasks_state_id ON tasks (state, id);
      CREATE INDEX tasks_owner_state_id ON tasks (owner, state, id);
      -- name_prefix ranges.
      CREATE INDEX tasks_name ON tasks (name);
      CREATE INDEX tasks_owner_name ON tasks (owner, name);
      -- Recovery sweeps: findStale().
      CREATE INDEX tasks_state_updated_at ON tasks (state, updated_at);

      CREATE TABLE task_tags (
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (task_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX task_tags_key_value_task_id ON task_tags (key, value, task_id);
    `,
  },
  {
    version: 2,
    name: "trace context of the call that created each task",
    // The W3C traceparent of CreateTask's span ('' when not traced): the worker's poll-cycle spans
    // join or link each task's own trace with it. Tasks stored before this step have none.
    sql: `ALTER TABLE tasks ADD COLUMN trace_context TEXT NOT NULL DEFAULT '';`,
  },
];
