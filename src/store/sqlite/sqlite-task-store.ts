import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { State, Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { View } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { buildListSql } from "../list-sql.js";
import { latestVersion, SchemaTooNewError } from "../migration.js";
import { decodePageToken, encodePageToken } from "../page-token.js";
import { TaskExistsError, TaskNotFoundError, TerminalStateError } from "../store-errors.js";
import { decodeTask, encodeTask, minimalTask, shapeTask } from "../task-document.js";
import { isTerminal, stateName, TERMINAL_STATES } from "../task-states.js";
import type { ListQuery, Scope, TaskChange, TaskPage, TaskRecord, TaskStore } from "../task-store.js";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";

export interface SqliteTaskStoreOptions {
  /** The database file; its directory is created if missing. */
  path: string;
  /** How long a statement waits for another process's write lock before failing. */
  busyTimeoutInMs: number;
}

interface RecordRow {
  id: string;
  owner: string;
  version: number;
  backend_handle: string;
  updated_at: number;
  document: Buffer;
}

interface ListRow {
  id: string;
  state: number;
  document?: Buffer;
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

  constructor(options: SqliteTaskStoreOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: options.busyTimeoutInMs });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
  }

  async migrate(): Promise<void> {
    // BEGIN IMMEDIATE takes the write lock first, so processes starting together apply each step once.
    const apply = this.db.transaction(() => {
      this.db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      );
      const applied = new Set(
        this.db
          .prepare("SELECT version FROM schema_migrations")
          .pluck()
          .all()
          .map((version) => Number(version)),
      );
      const known = latestVersion(SQLITE_MIGRATIONS);
      const newest = Math.max(0, ...applied);
      if (newest > known) throw new SchemaTooNewError(newest, known);
      const record = this.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
      for (const migration of SQLITE_MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        this.db.exec(migration.sql);
        record.run(migration.version, migration.name, Date.now());
      }
    });
    apply.immediate();
  }

  async insert(task: Task, owner: string): Promise<void> {
    const insertTask = this.statement(
      `INSERT INTO tasks (id, owner, state, name, creation_time, version, backend_handle, updated_at, document)
       VALUES (?, ?, ?, ?, ?, 1, '', ?, ?)`,
    );
    const insertTag = this.statement("INSERT INTO task_tags (task_id, key, value) VALUES (?, ?, ?)");
    const document = encodeTask(task);
    const write = this.db.transaction(() => {
      insertTask.run(task.id, owner, task.state, task.name, task.creationTime, Date.now(), document);
      for (const [key, value] of Object.entries(task.tags)) insertTag.run(task.id, key, value);
    });
    try {
      write();
    } catch (error) {
      if (isSqliteError(error) && error.code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new TaskExistsError(task.id);
      throw error;
    }
  }

  async get(id: string, scope: Scope): Promise<TaskRecord | undefined> {
    const columns = "id, owner, version, backend_handle, updated_at, document";
    const row = scope.all
      ? (this.statement(`SELECT ${columns} FROM tasks WHERE id = ?`).get(id) as RecordRow | undefined)
      : (this.statement(`SELECT ${columns} FROM tasks WHERE id = ? AND owner = ?`).get(id, scope.owner) as
          | RecordRow
          | undefined);
    return row === undefined ? undefined : toRecord(row);
  }

  async list(query: ListQuery, scope: Scope): Promise<TaskPage> {
    const afterId = decodePageToken(query.pageToken, query, scope);
    const withDocument = query.view !== View.MINIMAL;
    const sql = buildListSql(query, scope, afterId, withDocument, () => "?");
    const rows = this.listStatement(sql.text).all(...sql.values) as ListRow[];
    const pageRows = rows.slice(0, query.pageSize);
    const tasks = pageRows.map((row) =>
      row.document === undefined
        ? minimalTask(row.id, row.state as State)
        : shapeTask(decodeTask(row.document), query.view),
    );
    const last = pageRows.at(-1);
    const page: TaskPage = { tasks };
    if (rows.length > query.pageSize && last !== undefined) page.nextPageToken = encodePageToken(last.id, query, scope);
    return page;
  }

  async update(id: string, expectedVersion: number, change: TaskChange): Promise<TaskRecord | undefined> {
    if (change.task.id !== id) throw new Error(`update(${id}): the changed task carries id ${change.task.id}`);
    const row = this.statement(
      `UPDATE tasks
       SET document = ?, state = ?, version = version + 1, backend_handle = coalesce(?, backend_handle), updated_at = ?
       WHERE id = ? AND version = ? AND (state = ? OR state NOT IN (${TERMINAL_LIST}))
       RETURNING id, owner, version, backend_handle, updated_at`,
    ).get(
      encodeTask(change.task),
      change.task.state,
      change.backendHandle ?? null,
      Date.now(),
      id,
      expectedVersion,
      change.task.state,
    ) as Omit<RecordRow, "document"> | undefined;
    if (row !== undefined) {
      return {
        task: change.task,
        owner: row.owner,
        version: row.version,
        backendHandle: row.backend_handle,
        updatedAt: new Date(row.updated_at),
      };
    }
    // Nothing changed: say why, so a caller never retries a move out of a terminal state forever.
    const current = this.statement("SELECT version, state FROM tasks WHERE id = ?").get(id) as
      | { version: number; state: number }
      | undefined;
    if (current === undefined) throw new TaskNotFoundError(id);
    if (current.version === expectedVersion && isTerminal(current.state as State)) {
      throw new TerminalStateError(id, stateName(current.state as State), stateName(change.task.state));
    }
    return undefined;
  }

  async findStale(states: readonly State[], updatedBefore: Date, limit: number): Promise<TaskRecord[]> {
    if (states.length === 0 || limit <= 0) return [];
    const placeholders = states.map(() => "?").join(", ");
    const rows = this.listStatement(
      `SELECT id, owner, version, backend_handle, updated_at, document FROM tasks
       WHERE state IN (${placeholders}) AND updated_at < ? ORDER BY updated_at LIMIT ?`,
    ).all(...states, updatedBefore.getTime(), limit) as RecordRow[];
    return rows.map(toRecord);
  }

  async close(): Promise<void> {
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
  return {
    task: decodeTask(row.document),
    owner: row.owner,
    version: row.version,
    backendHandle: row.backend_handle,
    updatedAt: new Date(row.updated_at),
  };
}

function isSqliteError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}
