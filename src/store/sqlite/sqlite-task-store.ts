import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { State, Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { View } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { GroupCommitQueue, type PendingInsert } from "../group-commit-queue.js";
import { GroupReadQueue } from "../group-read-queue.js";
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
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";

/** insertBatchMax (TaskStoreTuning) is the most inserts one group commit writes in one transaction. */
export interface SqliteTaskStoreOptions extends TaskStoreTuning {
  /** The database file; its directory is created if missing. */
  path: string;
  /** How long a statement waits for another process's write lock before failing. */
  busyTimeoutInMs: number;
}

type SqlitePendingInsert = PendingInsert<Uint8Array>;

const RECORD_COLUMNS = "owner, version, backend_handle, updated_at, trace_context, document";
const SQL = {
  insertTask: `INSERT INTO tasks (id, owner, state, name, creation_time, version, backend_handle, updated_at, trace_context, document)
       VALUES (?, ?, ?, ?, ?, 1, '', ?, ?, ?)`,
  insertTag: "INSERT INTO task_tags (task_id, key, value) VALUES (?, ?, ?)",
  getAll: `SELECT ${RECORD_COLUMNS} FROM tasks WHERE id = ?`,
  getOwned: `SELECT ${RECORD_COLUMNS} FROM tasks WHERE id = ? AND owner = ?`,
  // getView. MINIMAL: the state, read with pluck (no row object).
  stateAll: "SELECT state FROM tasks WHERE id = ?",
  stateOwned: "SELECT state FROM tasks WHERE id = ? AND owner = ?",
  // BASIC and FULL: the version, and the document with its version only when that is not the one
  // whose views are held (see TaskViewCache.view).
  versionAll: "SELECT version FROM tasks WHERE id = ?",
  versionOwned: "SELECT version FROM tasks WHERE id = ? AND owner = ?",
  documentAll: "SELECT version, document FROM tasks WHERE id = ?",
  documentOwned: "SELECT version, document FROM tasks WHERE id = ? AND owner = ?",
} as const;

interface RecordRow extends BookkeepingRow {
  /** Epoch milliseconds. */
  updated_at: number;
  document: Buffer;
}


/** Different list shapes (filters present, number of tags) each get a statement; bounded. */
const MAX_CACHED_LIST_STATEMENTS = 64;
const TERMINAL_LIST = TERMINAL_STATES.join(", ");

/**
 * The embedded task store: one SQLite file in WAL mode, so readers never block the writer and other
 * processes (a second worker, `sqlite3` for a look) can open it too. synchronous=NORMAL keeps every
 * commit across a process crash; only a power loss may drop the last few. better-sqlite3 is
 * synchronous, so every query here is a short, indexed, prepared statement.
 */
export class SqliteTaskStore implements TaskStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly listStatements = new Map<string, Database.Statement>();
  private readonly views: TaskViewCache;
  /** Inserts waiting for the next group commit (see insert). */
  private readonly inserts: GroupCommitQueue<Uint8Array>;
  /** GetTask reads waiting to share the turn's read transaction (see getView). */
  private readonly reads: GroupReadQueue;
  /** Built on first use: the tables exist only after migrate. */
  private insertStatements:
    | {
        one: Database.Transaction<(item: SqlitePendingInsert, now: number) => void>;
        all: Database.Transaction<(batch: readonly SqlitePendingInsert[], now: number) => void>;
        many: Database.Transaction<(batch: readonly SqlitePendingInsert[], now: number) => unknown[]>;
      }
    | undefined;

  constructor(options: SqliteTaskStoreOptions) {
    this.views = new TaskViewCache(options.viewCacheBytes);
    this.inserts = new GroupCommitQueue(options.insertBatchMax, (pending) => this.commitTurn(pending));
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: options.busyTimeoutInMs });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    // Statement journals (each group-commit savepoint has one) stay in memory instead of a temp
    // file: a batch of 16 inserts made 161k pwrite calls per 8000 tasks with a file, 29k without.
    this.db.pragma("temp_store = MEMORY");
    const readTogether = this.db.transaction((runAll: () => void) => runAll());
    // A lone read is a transaction of its own already: BEGIN and COMMIT around it would only add two statements.
    this.reads = new GroupReadQueue((runAll, reads) => (reads === 1 ? runAll() : readTogether(runAll)));
  }

  async migrate(): Promise<void> {
    // BEGIN IMMEDIATE takes the write lock first, so processes starting together apply each step once.
    const apply = this.db.transaction(() => {
      this.db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      );
      const applied = this.db
        .prepare("SELECT version FROM schema_migrations")
        .pluck()
        .all()
        .map((version) => Number(version));
      const record = this.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
      for (const migration of pendingMigrations(SQLITE_MIGRATIONS, applied)) {
        this.db.exec(migration.sql);
        record.run(migration.version, migration.name, Date.now());
      }
    });
    apply.immediate();
  }

  /**
   * Group commit: inserts that arrive in the same event-loop turn (concurrent CreateTasks) are
   * written in one transaction at the end of the turn, so they share one commit, which is most of
   * an insert's cost. Each promise settles only after that commit, so a resolved insert is stored.
   * A task that fails (a taken id) rejects alone, the others are stored (see commitBatch); a
   * failing commit rejects the whole batch, and then none of it is stored.
   */
  insert(task: Task, owner: string, traceContext = ""): Promise<void> {
    return this.inserts.add(task, owner, traceContext, encodeTask(task));
  }

  /** One turn's inserts, in transactions of insertBatchMax at the most. */
  private commitTurn(pending: readonly SqlitePendingInsert[]): void {
    const batchMax = this.inserts.batchMax;
    for (let at = 0; at < pending.length; at += batchMax) this.commitInserts(pending.slice(at, at + batchMax));
  }

  private commitInserts(batch: readonly SqlitePendingInsert[]): void {
    const now = Date.now();
    let outcomes: unknown[];
    try {
      // Inside the try: preparing fails too (a closed store), and this runs at the end of a turn,
      // where a throw would be uncaught. One task alone needs no savepoint: its transaction is its own.
      outcomes = batch.length === 1 ? [this.insertTransactions().one(batch[0]!, now)] : this.commitBatch(batch, now);
    } catch (error) {
      for (const item of batch) item.reject(insertError(error, item.task.id));
      return;
    }
    batch.forEach((item, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) item.resolve();
      else item.reject(insertError(outcome, item.task.id));
    });
  }

  /**
   * The usual batch, with no task at fault, goes in one transaction without savepoints (a savepoint
   * per task cost 8-27% of an insert: 37-40 against 27-37 µs per task in batches of 16, measured). When a task fails (a taken id), the transaction is
   * rolled back and the batch written again with a savepoint per task, so only that task fails. A
   * write lock that stayed busy is not tried again: it has waited its busy timeout already.
   */
  private commitBatch(batch: readonly SqlitePendingInsert[], now: number): unknown[] {
    const statements = this.insertTransactions();
    try {
      statements.all(batch, now);
      return batch.map(() => undefined);
    } catch (error) {
      if (isSqliteError(error) && error.code.startsWith("SQLITE_BUSY")) throw error;
      return statements.many(batch, now);
    }
  }

  private insertTransactions(): NonNullable<SqliteTaskStore["insertStatements"]> {
    if (this.insertStatements !== undefined) return this.insertStatements;
    const insertTask = this.statement(SQL.insertTask);
    const insertTag = this.statement(SQL.insertTag);
    const write = (item: SqlitePendingInsert, now: number): void => {
      const { task, owner, traceContext, document } = item;
      insertTask.run(task.id, owner, task.state, task.name, task.creationTime, now, traceContext, document);
      for (const key in task.tags) insertTag.run(task.id, key, task.tags[key]);
    };
    // A transaction called inside another runs as a savepoint (better-sqlite3), rolled back alone on a throw.
    const one = this.db.transaction(write);
    const all = this.db.transaction((batch: readonly SqlitePendingInsert[], now: number) => {
      for (const item of batch) write(item, now);
    });
    const many = this.db.transaction((batch: readonly SqlitePendingInsert[], now: number) =>
      batch.map((item) => {
        try {
          one(item, now);
          return undefined;
        } catch (error) {
          return error ?? new Error("insert failed");
        }
      }),
    );
    this.insertStatements = { one, all, many };
    return this.insertStatements;
  }

  async get(id: string, scope: Scope): Promise<TaskRecord | undefined> {
    const row = (scope.all ? this.statement(SQL.getAll).get(id) : this.statement(SQL.getOwned).get(id, scope.owner)) as
      | RecordRow
      | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  /** The GetTasks of one turn share a read transaction (GroupReadQueue), whose begin and end cost more than a read. */
  getView(id: string, scope: Scope, view: View): Promise<Task | undefined> {
    return this.reads.add(() => this.readView(id, scope, view));
  }

  /** Reads synchronously (inside the turn's transaction); BASIC and FULL may decode after it, in TaskViewCache.view. */
  private readView(id: string, scope: Scope, view: View): Promise<Task | undefined> | Task | undefined {
    if (view === View.MINIMAL) {
      const statement = this.statement(scope.all ? SQL.stateAll : SQL.stateOwned).pluck();
      const state = (scope.all ? statement.get(id) : statement.get(id, scope.owner)) as State | undefined;
      return state === undefined ? undefined : this.views.minimal(id, state);
    }
    // Two statements where PostgreSQL has one CASE (a round trip saved there): with the CPU caches
    // as cold as they are between requests, the version alone reads as fast as MINIMAL's state,
    // and the CASE cost 5 µs more. A miss reads version and document together, of one snapshot.
    return this.views.view(id, view === View.FULL ? View.FULL : View.BASIC, (heldVersion) => {
      const versions = this.statement(scope.all ? SQL.versionAll : SQL.versionOwned).pluck();
      const version = (scope.all ? versions.get(id) : versions.get(id, scope.owner)) as number | undefined;
      if (version === undefined) return undefined;
      if (version === heldVersion) return { version, document: null };
      const documents = this.statement(scope.all ? SQL.documentAll : SQL.documentOwned).raw();
      const row = (scope.all ? documents.get(id) : documents.get(id, scope.owner)) as [number, Buffer] | undefined;
      return row === undefined ? undefined : { version: row[0], document: row[1] };
    });
  }

  async list(query: ListQuery, scope: Scope): Promise<TaskPage> {
    const afterId = decodePageToken(query.pageToken, query, scope);
    const withDocument = query.view !== View.MINIMAL;
    const sql = buildListSql(query, scope, afterId, withDocument, () => "?");
    const rows = this.listStatement(sql.text).all(...sql.values) as ListRow[];
    return pageOfRows(rows, query, scope);
  }

  async update(id: string, expectedVersion: number, change: TaskChange): Promise<TaskRecord | undefined> {
    if (change.task.id !== id) throw new Error(`update(${id}): the changed task carries id ${change.task.id}`);
    const row = this.statement(
      `UPDATE tasks
       SET document = ?, state = ?, version = version + 1, backend_handle = coalesce(?, backend_handle), updated_at = ?
       WHERE id = ? AND version = ? AND (state = ? OR state NOT IN (${TERMINAL_LIST}))
       RETURNING id, owner, version, backend_handle, updated_at, trace_context`,
    ).get(
      encodeTask(change.task),
      change.task.state,
      change.backendHandle ?? null,
      Date.now(),
      id,
      expectedVersion,
      change.task.state,
    ) as Omit<RecordRow, "document"> | undefined;
    if (row !== undefined) return taskRecordOf(change.task, row, new Date(row.updated_at));
    const current = this.statement("SELECT version, state FROM tasks WHERE id = ?").get(id) as VersionAndState | undefined;
    return explainMissedUpdate(id, expectedVersion, change.task.state, current);
  }

  async findStale(states: readonly State[], updatedBefore: Date, limit: number): Promise<TaskRecord[]> {
    if (states.length === 0 || limit <= 0) return [];
    const placeholders = states.map(() => "?").join(", ");
    const rows = this.listStatement(
      `SELECT ${RECORD_COLUMNS} FROM tasks
       WHERE state IN (${placeholders}) AND updated_at < ? ORDER BY updated_at LIMIT ?`,
    ).all(...states, updatedBefore.getTime(), limit) as RecordRow[];
    return rows.map(toRecord);
  }

  async findFollowed(states: readonly State[], limit: number): Promise<FollowedTask[]> {
    if (states.length === 0 || limit <= 0) return [];
    const placeholders = states.map(() => "?").join(", ");
    const rows = this.listStatement(
      `SELECT ${FOLLOWED_COLUMNS} FROM tasks
       WHERE state IN (${placeholders}) AND backend_handle <> '' ORDER BY updated_at LIMIT ?`,
    ).all(...states, limit) as FollowedRow[];
    return rows.map(followedTaskOf);
  }

  async countByState(states: readonly State[]): Promise<Map<State, number>> {
    const counts = new Map<State, number>(states.map((state) => [state, 0]));
    if (states.length === 0) return counts;
    const placeholders = states.map(() => "?").join(", ");
    const rows = this.listStatement(
      `SELECT state, count(*) AS count FROM tasks WHERE state IN (${placeholders}) GROUP BY state`,
    ).all(...states) as Array<{ state: State; count: number }>;
    for (const row of rows) counts.set(row.state, row.count);
    return counts;
  }

  async close(): Promise<void> {
    // Inserts already accepted are written, and reads asked for answered, not dropped (their callers are waiting on them).
    if (this.db.open) this.inserts.flush();
    if (this.db.open) this.reads.flush();
    if (this.db.open) this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private listStatement(sql: string): Database.Statement {
    let statement = this.listStatements.get(sql);
    if (statement === undefined) {
      if (this.listStatements.size >= MAX_CACHED_LIST_STATEMENTS) {
        const oldest = this.listStatements.keys().next().value;
        if (oldest !== undefined) this.listStatements.delete(oldest);
      }
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
    }
    return statement;
  }
}

function toRecord(row: RecordRow): TaskRecord {
  return taskRecordOf(decodeTask(row.document), row, new Date(row.updated_at));
}

/** A taken id is TaskExistsError; anything else stays as the driver said it. */
function insertError(error: unknown, id: string): unknown {
  return isSqliteError(error) && error.code === "SQLITE_CONSTRAINT_PRIMARYKEY" ? new TaskExistsError(id) : error;
}

function isSqliteError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}
