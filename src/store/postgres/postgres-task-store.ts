import pg from "pg";
import type { State, Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { View } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { GroupCommitQueue, type PendingInsert } from "../group-commit-queue.js";
import { buildListSql, pageOfRows, type ListRow } from "../list-sql.js";
import { pendingMigrations } from "../migration.js";
import { explainMissedUpdate, type VersionAndState } from "../missed-update.js";
import { decodePageToken } from "../page-token.js";
import { TaskExistsError } from "../store-errors.js";
import { decodeTask, encodeTask } from "../task-document.js";
import { TERMINAL_STATES } from "../task-states.js";
import { TaskViewCache } from "../task-view-cache.js";
import type { FollowedTask, ListQuery, Scope, TaskChange, TaskPage, TaskRecord, TaskStore } from "../task-store.js";
import type { TaskStoreTuning } from "../task-store-tuning.js";
import { FOLLOWED_COLUMNS, followedTaskOf, taskRecordOf, type BookkeepingRow, type FollowedRow } from "../task-rows.js";
import { POSTGRES_MIGRATIONS } from "./postgres-migrations.js";
import { PostgresViewReads, type ViewRow } from "./postgres-view-reads.js";

/** insertBatchMax (TaskStoreTuning) is the most inserts one group commit writes in one statement. */
export interface PostgresTaskStoreOptions extends TaskStoreTuning {
  /** postgres://user:password@host:port/db; kept inside the pool, never logged. */
  connectionString: string;
  poolSize: number;
  /** The schema the tables live in; created by migrate() if missing. Undefined: the server's search_path. */
  schema: string | undefined;
  connectTimeoutInMs: number;
  /** 0 for no limit. */
  statementTimeoutInMs: number;
}

type PostgresPendingInsert = PendingInsert<Buffer>;

interface RecordRow extends BookkeepingRow {
  updated_at: Date;
  document: Buffer;
}


const TERMINAL_LIST = TERMINAL_STATES.join(", ");
const RECORD_COLUMNS = "owner, version, backend_handle, updated_at, trace_context, document";

/** Fixed queries are named, so each connection parses and plans them once. */
const SQL = {
  insert: {
    name: "tes_task_insert",
    // One statement, so one round trip and atomic without an explicit transaction.
    text: `WITH inserted AS (
             INSERT INTO tasks (id, owner, state, name, creation_time, version, backend_handle, updated_at, document, trace_context)
             VALUES ($1, $2, $3, $4, $5, 1, '', $6, $7, $10)
             RETURNING id
           )
           INSERT INTO task_tags (task_id, key, value)
           SELECT inserted.id, tag.key, tag.value FROM inserted, unnest($8::text[], $9::text[]) AS tag (key, value)`,
  },
  // Many tasks in one statement (group commit): a taken id inserts nothing and is missing from the
  // returned ids; tags go in only for the tasks that went in.
  insertMany: {
    name: "tes_task_insert_many",
    text: `WITH inserted AS (
             INSERT INTO tasks (id, owner, state, name, creation_time, version, backend_handle, updated_at, document, trace_context)
             SELECT id, owner, state, name, creation_time, 1, '', $6, document, trace_context
             FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $7::bytea[], $11::text[])
               AS task (id, owner, state, name, creation_time, document, trace_context)
             ON CONFLICT (id) DO NOTHING
             RETURNING id
           ), tags AS (
             INSERT INTO task_tags (task_id, key, value)
             SELECT tag.task_id, tag.key, tag.value
             FROM unnest($8::text[], $9::text[], $10::text[]) AS tag (task_id, key, value)
             JOIN inserted ON inserted.id = tag.task_id
           )
           SELECT id FROM inserted`,
  },
  getAll: { name: "tes_task_get_all", text: `SELECT ${RECORD_COLUMNS} FROM tasks WHERE id = $1` },
  getOwned: { name: "tes_task_get_owned", text: `SELECT ${RECORD_COLUMNS} FROM tasks WHERE id = $1 AND owner = $2` },
  update: {
    name: "tes_task_update",
    text: `UPDATE tasks
           SET document = $1, state = $2, version = version + 1, backend_handle = coalesce($3, backend_handle), updated_at = $4
           WHERE id = $5 AND version = $6 AND (state = $2 OR state NOT IN (${TERMINAL_LIST}))
           RETURNING owner, version, backend_handle, updated_at, trace_context`,
  },
  versionAndState: { name: "tes_task_version_state", text: "SELECT version, state FROM tasks WHERE id = $1" },
  findStale: {
    name: "tes_task_find_stale",
    text: `SELECT ${RECORD_COLUMNS} FROM tasks
           WHERE state = ANY ($1::smallint[]) AND updated_at < $2 ORDER BY updated_at LIMIT $3`,
  },
  findFollowed: {
    name: "tes_task_find_followed",
    text: `SELECT ${FOLLOWED_COLUMNS} FROM tasks
           WHERE state = ANY ($1::smallint[]) AND backend_handle <> '' ORDER BY updated_at LIMIT $2`,
  },
  // The (state, updated_at) index answers this alone (an index-only scan once vacuumed).
  countByState: {
    name: "tes_task_count_by_state",
    text: "SELECT state, count(*) AS count FROM tasks WHERE state = ANY ($1::smallint[]) GROUP BY state",
  },
} as const;

/**
 * The production task store: PostgreSQL through a pg Pool, shared by every server and worker
 * process. Each operation is one statement (insert writes the task and its tags in one, update is
 * one compare-and-set), so no transaction is held across a round trip. List queries are sent
 * unnamed, so the planner sees the actual filter values (a selective tag or prefix picks its index).
 */
export class PostgresTaskStore implements TaskStore {
  private readonly pool: pg.Pool;
  private readonly views: TaskViewCache;
  /** Inserts waiting for the next group commit (see insert). */
  private readonly inserts: GroupCommitQueue<Buffer>;
  /** GetTask reads waiting for the end of their turn (see getView). */
  private readonly viewReads = new PostgresViewReads((config) => this.query<ViewRow & { n: string }>(config));
  /** Group commits on their way, which close waits for. */
  private readonly committing = new Set<Promise<void>>();
  /**
   * Queries on their way, which close waits for too: the pool, once ended, never hands a
   * connection to a query still waiting for one, which would fail only at its connect timeout.
   */
  private readonly querying = new Set<Promise<unknown>>();

  constructor(private readonly options: PostgresTaskStoreOptions) {
    this.views = new TaskViewCache(options.viewCacheBytes);
    this.inserts = new GroupCommitQueue(options.insertBatchMax, (pending) => this.commitTurn(pending));
    // The schema goes into a startup option and a CREATE SCHEMA: only a plain identifier is safe there.
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) {
      throw new Error(`the task store schema must be a plain lowercase identifier, got "${options.schema}"`);
    }
    const startupOptions = options.schema === undefined ? undefined : `-c search_path=${options.schema}`;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutInMs,
      ...(options.statementTimeoutInMs > 0 ? { statement_timeout: options.statementTimeoutInMs } : {}),
      ...(startupOptions === undefined ? {} : { options: startupOptions }),
      application_name: "tes-task-store",
    });
    // An idle connection that breaks (a server restart, a failover) is dropped by the pool and
    // replaced on the next query; without a listener the error would end the process.
    this.pool.on("error", () => {});
  }

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      // Processes starting together queue here; the lock ends with the transaction.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('tes-task-store-migrations:' || current_setting('search_path')))");
      if (this.options.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.options.schema}"`);
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
      for (const migration of pendingMigrations(POSTGRES_MIGRATIONS, rows.map((row) => row.version))) {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Group commit: inserts that arrive in the same event-loop turn (concurrent CreateTasks) go to
   * the server as one statement, one round trip and one commit; each promise settles after that
   * commit, so a resolved insert is stored. A taken id fails that task alone (TaskExistsError).
   * When the statement as a whole fails (a value PostgreSQL refuses, say), each of its tasks is
   * retried alone, so only the task at fault fails.
   */
  insert(task: Task, owner: string, traceContext = ""): Promise<void> {
    return this.inserts.add(task, owner, traceContext, toBuffer(encodeTask(task)));
  }

  /** One turn's inserts, in statements of insertBatchMax at the most, committed one after another. */
  private commitTurn(turn: readonly PostgresPendingInsert[]): void {
    let pending = turn;
    const batches: PostgresPendingInsert[][] = [];
    while (pending.length > 0) {
      // A statement holds each id once (the first sent comes first); a repeat goes to the next one.
      const ids = new Set<string>();
      const batch: PostgresPendingInsert[] = [];
      const later: PostgresPendingInsert[] = [];
      for (const item of pending) {
        if (batch.length < this.inserts.batchMax && !ids.has(item.task.id)) {
          ids.add(item.task.id);
          batch.push(item);
        } else {
          later.push(item);
        }
      }
      batches.push(batch);
      pending = later;
    }
    const committing = (async () => {
      // One after another, so a repeated id meets the stored first one and is refused.
      for (const batch of batches) await this.commitInserts(batch);
    })();
    this.committing.add(committing);
    void committing.finally(() => this.committing.delete(committing));
  }

  /** Settles every insert of the batch; never throws. */
  private async commitInserts(batch: readonly PostgresPendingInsert[]): Promise<void> {
    if (batch.length === 1) return this.insertOne(batch[0]!);
    let inserted: Set<string>;
    try {
      inserted = await this.insertMany(batch);
    } catch {
      // Which task the statement choked on is unknown: each one alone says for itself.
      await Promise.all(batch.map((item) => this.insertOne(item)));
      return;
    }
    for (const item of batch) {
      if (inserted.has(item.task.id)) item.resolve();
      else item.reject(new TaskExistsError(item.task.id));
    }
  }

  private async insertMany(batch: readonly PostgresPendingInsert[]): Promise<Set<string>> {
    const tagTaskIds: string[] = [];
    const tagKeys: string[] = [];
    const tagValues: string[] = [];
    for (const { task } of batch) {
      for (const key in task.tags) {
        tagTaskIds.push(task.id);
        tagKeys.push(key);
        tagValues.push(task.tags[key] ?? "");
      }
    }
    const { rows } = await this.query<{ id: string }>({
      ...SQL.insertMany,
      values: [
        batch.map((item) => item.task.id),
        batch.map((item) => item.owner),
        batch.map((item) => item.task.state),
        batch.map((item) => item.task.name),
        batch.map((item) => item.task.creationTime),
        new Date(),
        batch.map((item) => item.document),
        tagTaskIds,
        tagKeys,
        tagValues,
        batch.map((item) => item.traceContext),
      ],
    });
    return new Set(rows.map((row) => row.id));
  }

  private async insertOne(item: PostgresPendingInsert): Promise<void> {
    const { task, owner, traceContext, document } = item;
    const tags = Object.entries(task.tags);
    try {
      await this.query({
        ...SQL.insert,
        values: [
          task.id,
          owner,
          task.state,
          task.name,
          task.creationTime,
          new Date(),
          document,
          tags.map(([key]) => key),
          tags.map(([, value]) => value),
          traceContext,
        ],
      });
      item.resolve();
    } catch (error) {
      item.reject(pgErrorCode(error) === "23505" ? new TaskExistsError(task.id) : error);
    }
  }

  async get(id: string, scope: Scope): Promise<TaskRecord | undefined> {
    const result = scope.all
      ? await this.query<RecordRow>({ ...SQL.getAll, values: [id] })
      : await this.query<RecordRow>({ ...SQL.getOwned, values: [id, scope.owner] });
    const row = result.rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * The GetTasks of one turn go in one statement (PostgresViewReads). MINIMAL asks for no document;
   * BASIC and FULL get it only when the version is not the one whose views are held (see
   * TaskViewCache.view).
   */
  async getView(id: string, scope: Scope, view: View): Promise<Task | undefined> {
    const owner = scope.all ? null : scope.owner;
    if (view === View.MINIMAL) {
      const row = await this.viewReads.read(id, owner, null);
      return row === undefined ? undefined : this.views.minimal(id, row.state);
    }
    return this.views.view(id, view === View.FULL ? View.FULL : View.BASIC, (heldVersion) => this.viewReads.read(id, owner, heldVersion));
  }

  async list(query: ListQuery, scope: Scope): Promise<TaskPage> {
    const afterId = decodePageToken(query.pageToken, query, scope);
    // PostgreSQL text cannot hold U+0000, so no stored name starts with such a prefix.
    if (query.namePrefix?.includes("\u0000")) return { tasks: [] };
    const withDocument = query.view !== View.MINIMAL;
    const sql = buildListSql(query, scope, afterId, withDocument, (index) => `$${index}`);
    const { rows } = await this.query<ListRow>(sql.text, sql.values);
    return pageOfRows(rows, query, scope);
  }

  async update(id: string, expectedVersion: number, change: TaskChange): Promise<TaskRecord | undefined> {
    if (change.task.id !== id) throw new Error(`update(${id}): the changed task carries id ${change.task.id}`);
    const { rows } = await this.query<Omit<RecordRow, "document">>({
      ...SQL.update,
      values: [
        toBuffer(encodeTask(change.task)),
        change.task.state,
        change.backendHandle ?? null,
        new Date(),
        id,
        expectedVersion,
      ],
    });
    const row = rows[0];
    if (row !== undefined) return taskRecordOf(change.task, row, row.updated_at);
    const current = (await this.query<VersionAndState>({ ...SQL.versionAndState, values: [id] })).rows[0];
    return explainMissedUpdate(id, expectedVersion, change.task.state, current);
  }

  async findStale(states: readonly State[], updatedBefore: Date, limit: number): Promise<TaskRecord[]> {
    if (states.length === 0 || limit <= 0) return [];
    const { rows } = await this.query<RecordRow>({ ...SQL.findStale, values: [states, updatedBefore, limit] });
    return rows.map(toRecord);
  }

  async findFollowed(states: readonly State[], limit: number): Promise<FollowedTask[]> {
    if (states.length === 0 || limit <= 0) return [];
    const { rows } = await this.query<FollowedRow>({ ...SQL.findFollowed, values: [states, limit] });
    return rows.map(followedTaskOf);
  }

  async countByState(states: readonly State[]): Promise<Map<State, number>> {
    const counts = new Map<State, number>(states.map((state) => [state, 0]));
    if (states.length === 0) return counts;
    // count(*) is a bigint, which pg hands over as a string.
    const { rows } = await this.query<{ state: State; count: string }>({ ...SQL.countByState, values: [states] });
    for (const row of rows) counts.set(row.state, Number(row.count));
    return counts;
  }

  async close(): Promise<void> {
    // Inserts already accepted are written, and queries asked for answered, not dropped (their callers are waiting on them).
    if (!this.pool.ended) this.inserts.flush();
    if (!this.pool.ended) this.viewReads.flush();
    await Promise.all(this.committing);
    await Promise.allSettled(this.querying);
    if (!this.pool.ended) await this.pool.end();
  }

  /** pool.query, counted among the queries close waits for. */
  private query<Row extends pg.QueryResultRow>(config: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    const running = this.pool.query<Row>(config, values);
    const done = (): void => void this.querying.delete(running);
    this.querying.add(running);
    running.then(done, done);
    return running;
  }
}

function toRecord(row: RecordRow): TaskRecord {
  return taskRecordOf(decodeTask(row.document), row, row.updated_at);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function pgErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
