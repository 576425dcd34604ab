import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clone, create } from "@bufbuild/protobuf";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { State, TaskLogSchema, TaskSchema, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { PostgresTaskStore } from "../../src/store/postgres/postgres-task-store.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import { ALL, type TaskStore } from "../../src/store/task-store.js";
import type { BenchFunction, Figure } from "./bench-result.js";

/**
 * The task store's single-task operations, one at a time from one caller, as the service and the
 * worker use them: insert (CreateTask), get (GetTask), update (a state change with logs), on
 * SQLite and PostgreSQL (TEST_DATABASE_URL). Reports per-operation p50 and p95 and a rate.
 */
const OPERATIONS = Number(process.env.BENCH_STORE_OPERATIONS ?? 2000);

export const bench: BenchFunction = async ({ log }) => {
  const figures: Record<string, Figure> = {};
  const dir = mkdtempSync(join(tmpdir(), "tes-bench-store-"));
  try {
    log("sqlite");
    const sqlite = new SqliteTaskStore({ path: join(dir, "tes.sqlite"), busyTimeoutInMs: 5000 });
    try {
      Object.assign(figures, await measure("sqlite", sqlite));
    } finally {
      await sqlite.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const connectionString = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `tes_bench_${randomBytes(6).toString("hex")}`;
  log("postgres");
  const postgres = new PostgresTaskStore({ connectionString, poolSize: 4, schema, connectTimeoutInMs: 5000, statementTimeoutInMs: 0 });
  try {
    Object.assign(figures, await measure("postgres", postgres));
  } finally {
    await postgres.close();
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
  return { figures, ratios: {} };
};

async function measure(label: string, store: TaskStore): Promise<Record<string, Figure>> {
  await store.migrate();
  const tasks = Array.from({ length: OPERATIONS }, (_, index) => sampleTask(index));
  const inserts = await timeEach(tasks, (task) => store.insert(task, "owner-1"));
  const gets = await timeEach(tasks, async (task) => {
    if ((await store.get(task.id, ALL)) === undefined) throw new Error(`task ${task.id} not found`);
  });
  const updates = await timeEach(tasks, async (task) => {
    const running = clone(TaskSchema, task);
    running.state = State.RUNNING;
    running.logs = [create(TaskLogSchema, { startTime: new Date().toISOString(), logs: [{ exitCode: 0 }] })];
    if ((await store.update(task.id, 1, { task: running, backendHandle: `job/${task.id}` })) === undefined) {
      throw new Error(`update of ${task.id} lost`);
    }
  });
  const figures: Record<string, Figure> = {};
  for (const [name, times] of Object.entries({ insert: inserts, get: gets, update: updates })) {
    const sorted = [...times].sort((a, b) => a - b);
    const total = times.reduce((sum, time) => sum + time, 0);
    figures[`${label}.${name}.p50`] = { value: round(sorted[Math.floor(sorted.length / 2)] ?? 0), unit: "ms" };
    figures[`${label}.${name}.p95`] = { value: round(sorted[Math.floor(sorted.length * 0.95)] ?? 0), unit: "ms" };
    figures[`${label}.${name}.rate`] = { value: Math.round((times.length / total) * 1000), unit: "ops/s" };
  }
  return figures;
}

async function timeEach<T>(items: readonly T[], operation: (item: T) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (const item of items) {
    const start = performance.now();
    await operation(item);
    times.push(performance.now() - start);
  }
  return times;
}

function sampleTask(index: number): Task {
  return create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    name: `sample-${index}`,
    inputs: [{ url: `https://acct.blob.core.windows.net/in/sample-${index}.fq.gz`, path: "/data/reads.fq.gz" }],
    outputs: [{ url: `https://acct.blob.core.windows.net/out/sample-${index}.bam`, path: "/data/out.bam" }],
    resources: { cpuCores: 2, ramGb: 8 },
    executors: [{ image: "biocontainers/bwa:0.7.17", command: ["bwa", "mem", "/ref/GRCh38.fa", "/data/reads.fq.gz"] }],
    tags: { project: "p1", sample: `s${index}` },
    creationTime: new Date().toISOString(),
  });
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
