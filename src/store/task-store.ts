import type { State, Task, View } from "../gen/ga4gh/tes/v1/tes_pb.js";

/**
 * The task store: the one source of truth about tasks. The queue only delivers work; whatever it
 * loses, the store still knows, and a sweep re-enqueues from it.
 *
 * Every read and write takes a Scope, and implementations apply it inside their queries (a WHERE
 * clause), never by filtering results, so another owner's task is absent from gets, lists, counts
 * and page tokens alike. Two implementations pass one conformance suite: SQLite (embedded
 * default) and PostgreSQL (production).
 */
export interface TaskStore {
  /** Applies pending migrations; safe to call from many processes at once. */
  migrate(): Promise<void>;

  /**
   * Stores a new task, FULL, with its id, QUEUED state and creation_time already set, at version 1.
   * The id must be time-sortable (UUIDv7): lists run newest first by id. Throws TaskExistsError when
   * the id is taken. Concurrent inserts may share one commit (group commit); each resolves only
   * once its own task is stored, and fails only for its own reason (or a failed shared commit).
   * `traceContext` is the W3C traceparent of the call that created it (TaskRecord.traceContext).
   */
  insert(task: Task, owner: string, traceContext?: string): Promise<void>;

  /**
   * One task with its bookkeeping, or undefined when it does not exist in this scope. The task is
   * the caller's own (decoded for this call, shared with nothing), so the caller may change it in
   * place and write it back (the worker, CancelTask): no copy needed. GetTask reads with getView.
   */
  get(id: string, scope: Scope): Promise<TaskRecord | undefined>;

  /**
   * One task shaped by `view`, only to be read, or undefined when it does not exist in this scope:
   * what GetTask answers. MINIMAL never reads the document; BASIC and FULL read it only when its
   * version is not the one whose views are held. Views come from a per-store TaskViewCache: a
   * document is decoded once and its BASIC and FULL views reused for as long as its version is the
   * stored one, a MINIMAL view for as long as the state is. Views are deeply frozen and shared with
   * other callers: never change one (use get to change a task). GetTasks that arrive together are
   * read together (one transaction or statement per event-loop turn).
   */
  getView(id: string, scope: Scope, view: View): Promise<Task | undefined>;

  /**
   * One page of tasks, newest first (id DESC), shaped by the view; keyset-paginated, so tasks created
   * between pages neither repeat nor push others off. Throws InvalidPageTokenError for a token this
   * store did not write, or wrote for other filters or another scope.
   */
  list(query: ListQuery, scope: Scope): Promise<TaskPage>;

  /**
   * Compare-and-set: replaces the task (and the backend handle, when given) only if the stored
   * version is still `expectedVersion`, in one statement. Returns the new record (version + 1), or
   * undefined when the version moved on (re-read and decide again).
   *
   * A terminal state (see task-states.ts) never changes to another state: that throws
   * TerminalStateError. A change that keeps the same terminal state (say, appending logs or
   * system_logs after COMPLETE or CANCELED) is allowed. Throws TaskNotFoundError for an unknown id.
   * The id, owner, name, creation_time and tags are fixed at insert: the filters read the values
   * stored then, so callers must not change them.
   */
  update(id: string, expectedVersion: number, change: TaskChange): Promise<TaskRecord | undefined>;

  /**
   * Tasks in any of `states` last written before `updatedBefore`, least recently written first, at
   * most `limit`, in every scope: for recovery sweeps.
   */
  findStale(states: readonly State[], updatedBefore: Date, limit: number): Promise<TaskRecord[]>;

  /**
   * Tasks in any of `states` that have a backend handle, least recently written first, at most
   * `limit`, in every scope: what the poll cycle follows. Reads the bookkeeping columns only, no
   * task document, so following ten thousand tasks decodes none of them.
   */
  findFollowed(states: readonly State[], limit: number): Promise<FollowedTask[]>;

  /**
   * How many tasks are in each of `states`, in every scope: for the tes.tasks gauge. Every state
   * asked for is in the map (0 when no task is in it); no other state is. Cheap for the states it
   * is meant for, the non-terminal ones, whose counts stay small: one query on the
   * (state, updated_at) index. Counting a terminal state walks every task that ever ended in it.
   */
  countByState(states: readonly State[]): Promise<Map<State, number>>;

  close(): Promise<void>;
}

/** Who is asking: everything (standalone mode, admins, the worker) or one owner's tasks. */
export type Scope = { readonly all: true } | { readonly all: false; readonly owner: string };

export const ALL: Scope = { all: true };

export function ownedBy(owner: string): Scope {
  return { all: false, owner };
}

export interface TaskRecord {
  /** The whole task, FULL view. */
  task: Task;
  /** "" in standalone mode; else the tenant or user id that created it. */
  owner: string;
  /** Bumped by every update; the compare-and-set token. */
  version: number;
  /** The backend's own reference for the current attempt (a Batch task id, a local run id). */
  backendHandle: string;
  updatedAt: Date;
  /**
   * The W3C traceparent of the CreateTask call that stored the task ("" when it was not traced):
   * the worker's later work on the task (a poll that changes it) joins that trace.
   */
  traceContext: string;
}

/** A followed task's bookkeeping, without its document (findFollowed). */
export interface FollowedTask {
  id: string;
  state: State;
  /** The compare-and-set token: the same version means the same stored task. */
  version: number;
  backendHandle: string;
  traceContext: string;
}

export interface TaskChange {
  task: Task;
  backendHandle?: string;
}

export interface ListQuery {
  namePrefix?: string;
  state?: State;
  /** Tag filters, ANDed; an empty value matches any value, but the key must exist. */
  tags?: ReadonlyArray<readonly [key: string, value: string]>;
  /** 1..2047, already validated. */
  pageSize: number;
  /** The next_page_token of the previous page, as the store wrote it. */
  pageToken?: string;
  view: View;
}

export interface TaskPage {
  tasks: Task[];
  /** Absent on the last page. */
  nextPageToken?: string;
}
