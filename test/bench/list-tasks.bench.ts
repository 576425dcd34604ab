import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { View } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { PostgresTaskStore } from "../../src/store/postgres/postgres-task-store.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import { ALL, ownedBy, type ListQuery, type Scope, type TaskStore } from "../../src/store/task-store.js";
import { decodeTask } from "../../src/store/task-document.js";
import type { BenchFunction, BenchResult, Ratio } from "./bench-result.js";
import { seedPostgres, seedRow, seedSqlite, type SeedShape } from "./seed-tasks.js";

/**
 * ListTasks at scale: seeds BENCH_LIST_TASKS tasks (default 1,000,000) into SQLite and into
 * PostgreSQL (TEST_DATABASE_URL), then times store.list() with page_size 256, MINIMAL, on the first
 * page and on a deep page (reached by following next_page_token 2000 pages in), unfiltered, in an
 * owner's scope, and with a tag filter matching a tenth of the tasks. Keyset paging on id DESC
 * should make the deep page cost what the first costs: deep/first <= 1.5, reported as the ratio
 * first/deep >= 0.667 (the runner's ratios are "at least" targets).
 */
interface Figure {
  name: string;
  value: number;
  unit: string;
}

const PAGE_SIZE = 256;
const DEEP_PAGES = 2000;
const SAMPLES = 200;

export const bench: BenchFunction = async ({ log }) => {
  const count = Number(process.env.BENCH_LIST_TASKS ?? 1_000_000);
  if (!Number.isInteger(count) || count < PAGE_SIZE * 4) throw new Error(`BENCH_LIST_TASKS must be an integer >= ${PAGE_SIZE * 4}`);
  const shape: SeedShape = { count, owner: "", tagCardinality: 10 };
  checkSeedDocument(shape);
  const figures: Figure[] = [{ name: "tasks.seededPerStore", value: count, unit: "tasks" }];
  const ratios: Record<string, Ratio> = {};
  log(`sqlite: seeding ${count} tasks`);
  figures.push(...(await benchSqlite(shape, ratios, log)));
  log(`postgres: seeding ${count} tasks`);
  figures.push(...(await benchPostgres(shape, ratios, log)));
  const result: BenchResult = {
    figures: Object.fromEntries(figures.map(({ name, value, unit }) => [name, { value, unit }])),
    ratios,
  };
  return result;
};

async function benchSqlite(shape: SeedShape, ratios: Record<string, Ratio>, log: (line: string) => void): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), "tes-bench-list-"));
  const path = join(dir, "tes.sqlite");
  try {
    const store = new SqliteTaskStore({ path, busyTimeoutInMs: 5000 });
    try {
      await store.migrate();
      const seedStart = performance.now();
      seedSqlite(path, shape);
      const seedSeconds = (performance.now() - seedStart) / 1000;
      const figures: Figure[] = [
        { name: "sqlite.seed.seconds", value: round(seedSeconds), unit: "s" },
        { name: "sqlite.seed.rate", value: Math.round(shape.count / seedSeconds), unit: "tasks/s" },
        { name: "sqlite.file.size", value: Math.round(statSync(path).size / 2 ** 20), unit: "MiB" },
      ];
      log("sqlite: listing");
      figures.push(...(await measureListing("sqlite", store, shape, ratios)));
      return figures;
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(shape: SeedShape, ratios: Record<string, Ratio>, log: (line: string) => void): Promise<Figure[]> {
  const connectionString = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `tes_bench_${randomBytes(6).toString("hex")}`;
  const store = new PostgresTaskStore({ connectionString, poolSize: 4, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 0 });
  const seeder = new pg.Pool({ connectionString, max: 1, options: `-c search_path=${schema}` });
  try {
    await store.migrate();
    const seedStart = performance.now();
    await seedPostgres(seeder, shape);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    const figures: Figure[] = [
      { name: "postgres.seed.seconds", value: round(seedSeconds), unit: "s" },
      { name: "postgres.seed.rate", value: Math.round(shape.count / seedSeconds), unit: "tasks/s" },
    ];
    log("postgres: listing");
    figures.push(...(await measureListing("postgres", store, shape, ratios)));
    return figures;
  } finally {
    await store.close();
    await seeder.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await seeder.end();
  }
}

async function measureListing(label: string, store: TaskStore, shape: SeedShape, ratios: Record<string, Ratio>): Promise<Figure[]> {
  const figures: Figure[] = [];
  const cases: Array<{ name: string; scope: Scope; filters: Partial<ListQuery>; matches: number }> = [
    { name: "all", scope: ALL, filters: {}, matches: shape.count },
    { name: "ownerScope", scope: ownedBy(shape.owner), filters: {}, matches: shape.count },
    { name: "tagTenth", scope: ALL, filters: { tags: [["project", "p3"]] }, matches: Math.floor(shape.count / shape.tagCardinality) },
  ];
  for (const { name, scope, filters, matches } of cases) {
    // The deep page must still be a full page.
    const deepPages = Math.min(DEEP_PAGES, Math.floor(matches / PAGE_SIZE) - 2);
    const query: ListQuery = { ...filters, pageSize: PAGE_SIZE, view: View.MINIMAL };
    const walkStart = performance.now();
    let token: string | undefined;
    let pages = 0;
    for (; pages < deepPages; pages++) {
      const page = await store.list({ ...query, pageToken: token }, scope);
      if (page.nextPageToken === undefined) break;
      token = page.nextPageToken;
    }
    const walkMs = performance.now() - walkStart;
    const { first, deep } = await timeAlternately(store, query, { ...query, pageToken: token }, scope);
    const prefix = `${label}.list.${name}`;
    const firstName = `${prefix}.firstPage.p50`;
    const deepName = `${prefix}.page${pages + 1}.p50`;
    figures.push(
      { name: firstName, value: round(first.p50), unit: "ms" },
      { name: `${prefix}.firstPage.p95`, value: round(first.p95), unit: "ms" },
      { name: deepName, value: round(deep.p50), unit: "ms" },
      { name: `${prefix}.page${pages + 1}.p95`, value: round(deep.p95), unit: "ms" },
      { name: `${prefix}.meanPageWalking${pages}Pages`, value: round(walkMs / Math.max(1, pages)), unit: "ms" },
    );
    // deep/first <= 1.5, written as first/deep >= 1/1.5 for the runner's "at least" targets.
    ratios[`${prefix}.firstOverDeep`] = { value: round(first.p50 / deep.p50), of: [firstName, deepName], target: 0.667 };
  }
  return figures;
}

/**
 * Times the queries in turns (first, deep, first, deep, ...), so that both see the same load on a
 * shared machine; p50 and p95 of each.
 */
async function timeAlternately(
  store: TaskStore,
  firstQuery: ListQuery,
  deepQuery: ListQuery,
  scope: Scope,
): Promise<{ first: Percentiles; deep: Percentiles }> {
  const timeOne = async (query: ListQuery, into: number[]) => {
    const start = performance.now();
    const page = await store.list(query, scope);
    into.push(performance.now() - start);
    if (page.tasks.length !== query.pageSize) throw new Error(`expected a full page, got ${page.tasks.length} tasks`);
  };
  const warmUp: number[] = [];
  for (let i = 0; i < 20; i++) {
    await timeOne(firstQuery, warmUp);
    await timeOne(deepQuery, warmUp);
  }
  const first: number[] = [];
  const deep: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    await timeOne(firstQuery, first);
    await timeOne(deepQuery, deep);
  }
  return { first: percentiles(first), deep: percentiles(deep) };
}

interface Percentiles {
  p50: number;
  p95: number;
}

function percentiles(times: number[]): Percentiles {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length * 0.5)] ?? 0, p95: sorted[Math.floor(sorted.length * 0.95)] ?? 0 };
}

/** The seeder builds documents by hand; make sure they decode to the task the columns describe. */
function checkSeedDocument(shape: SeedShape): void {
  const row = seedRow(7, shape, Date.now());
  const task = decodeTask(row.document);
  const ok =
    task.id === row.id &&
    task.state === row.state &&
    task.name === row.name &&
    task.creationTime === row.creationTime &&
    task.tags.project === row.tags.project &&
    task.inputs[0]?.url.endsWith("sample-7.fq.gz") === true &&
    task.executors[0]?.image === "biocontainers/bwa:0.7.17";
  if (!ok) throw new Error("seeded documents do not decode to the seeded task");
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
