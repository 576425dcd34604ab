import type { Migration } from "../migration.js";

/**
 * The PostgreSQL schema, one numbered step at a time. Text columns that are compared or ordered use
 * the "C" collation: byte order of UTF-8, i.e. code-point order, which keyset paging on id and the
 * name_prefix ranges rely on (and which is faster than a locale's). The task itself is protobuf
 * binary (task-document.ts).
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "tasks and task tags",
    sql: `
      CREATE TABLE tasks (
        id text COLLATE "C" NOT NULL PRIMARY KEY,
        owner text COLLATE "C" NOT NULL,
        state smallint NOT NULL,
        name text COLLATE "C" NOT NULL,
        creation_time text NOT NULL,
        version integer NOT NULL,
        backend_handle text NOT NULL,
        updated_at timestamptz NOT NULL,
        document bytea NOT NULL
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
        task_id text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        key text COLLATE "C" NOT NULL,
        value text COLLATE "C" NOT NULL,
        PRIMARY KEY (task_id, key)
      );
      CREATE INDEX task_tags_key_value_task_id ON task_tags (key, value, task_id);
    `,
  },
  {
    version: 2,
    name: "trace context of the call that created each task",
    // The W3C traceparent of CreateTask's span ('' when not traced): the worker's poll-cycle spans
    // join or link each task's own trace with it. Tasks stored before this step have none. A
    // constant default adds the column without rewriting the table (PostgreSQL 11+).
    sql: `ALTER TABLE tasks ADD COLUMN trace_context text NOT NULL DEFAULT '';`,
  },
];
