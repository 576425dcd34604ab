import type { State } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { namePrefixRange } from "./name-prefix-range.js";
import { encodePageToken } from "./page-token.js";
import { decodeTask, minimalTask, shapeTask } from "./task-document.js";
import type { ListQuery, Scope, TaskPage } from "./task-store.js";

/**
 * The one SELECT behind list(), for both dialects (they differ only in how a parameter is written).
 * Every condition is a column comparison an index serves:
 * - scope: owner = ?, inside the WHERE, never a filter on results;
 * - the keyset cursor: id < ?, with ORDER BY id DESC, so a deep page costs what the first costs;
 * - name_prefix: a range on name (see name-prefix-range.ts), never LIKE;
 * - each tag filter: EXISTS on task_tags, served by its (task_id, key) key or the (key, value, task_id) index,
 *   bounded by the cursor too.
 * It asks for one row more than the page size, to know whether a next page exists.
 */
export interface ListSql {
  text: string;
  values: Array<string | number>;
}

export function buildListSql(
  query: ListQuery,
  scope: Scope,
  afterId: string | undefined,
  withDocument: boolean,
  placeholder: (index: number) => string,
): ListSql {
  const values: Array<string | number> = [];
  const param = (value: string | number): string => {
    values.push(value);
    return placeholder(values.length);
  };
  const where: string[] = [];
  if (!scope.all) where.push(`t.owner = ${param(scope.owner)}`);
  if (afterId !== undefined) where.push(`t.id < ${param(afterId)}`);
  if (query.state !== undefined) where.push(`t.state = ${param(query.state)}`);
  if (query.namePrefix !== undefined && query.namePrefix !== "") {
    const { lower, upper } = namePrefixRange(query.namePrefix);
    where.push(`t.name >= ${param(lower)}`);
    if (upper !== undefined) where.push(`t.name < ${param(upper)}`);
  }
  for (const [key, value] of query.tags ?? []) {
    // Placeholders are taken in the order they appear in the text: "?" in SQLite is positional.
    const keyCondition = `g.key = ${param(key)}`;
    const valueCondition = value === "" ? "" : ` AND g.value = ${param(value)}`;
    // Redundant with g.task_id = t.id, but it lets PostgreSQL start its merge join on the
    // (key, value, task_id) index at the cursor instead of reading every earlier match again.
    const cursorCondition = afterId === undefined ? "" : ` AND g.task_id < ${param(afterId)}`;
    where.push(`EXISTS (SELECT 1 FROM task_tags g WHERE g.task_id = t.id AND ${keyCondition}${valueCondition}${cursorCondition})`);
  }
  const columns = withDocument ? "t.id, t.state, t.document" : "t.id, t.state";
  const filter = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
  const text = `SELECT ${columns} FROM tasks t${filter} ORDER BY t.id DESC LIMIT ${param(query.pageSize + 1)}`;
  return { text, values };
}

/** A row of a list query: the document only when the view needs more than id and state. */
export interface ListRow {
  id: string;
  state: number;
  document?: Uint8Array;
}

/**
 * The page that a list query's rows make. The query asks for one row more than the page size, so
 * that a next page token is given only when another page really follows.
 */
export function pageOfRows(rows: readonly ListRow[], query: ListQuery, scope: Scope): TaskPage {
  const pageRows = rows.slice(0, query.pageSize);
  const tasks = pageRows.map((row) =>
    row.document === undefined ? minimalTask(row.id, row.state as State) : shapeTask(decodeTask(row.document), query.view),
  );
  const last = pageRows.at(-1);
  const page: TaskPage = { tasks };
  if (rows.length > query.pageSize && last !== undefined) page.nextPageToken = encodePageToken(last.id, query, scope);
  return page;
}
