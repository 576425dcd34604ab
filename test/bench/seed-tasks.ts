import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import Database from "better-sqlite3";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { State, TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";

/**
 * Bulk seeding for benchmarks: writes rows straight into a migrated store's tables, the way the
 * stores themselves do (same columns, same protobuf document), but in large batches: one SQLite
 * transaction, multi-row PostgreSQL inserts through unnest(). Not used by the server.
 */
export interface SeedShape {
  count: number;
  owner: string;
  /** Every task gets tag project=p<i mod tagCardinality>. */
  tagCardinality: number;
}

/** One seeded task: the row's columns and its protobuf document. */
interface SeedRow {
  id: string;
  state: State;
  name: string;
  creationTime: string;
  tags: Record<string, string>;
  document: Uint8Array;
}

/**
 * The fields every seeded task shares, encoded once. Protobuf lets encoded messages be
 * concatenated (later scalars win, repeated fields and maps append), so a document is this
 * template followed by the few fields that vary, written with the low-level writer: toBinary() of
 * a whole task costs about 60 µs here, which alone would take a minute per million tasks.
 */
const TEMPLATE = toBinary(
  TaskSchema,
  create(TaskSchema, {
    description: "bwa mem against GRCh38",
    outputs: [{ url: "https://acct.blob.core.windows.net/out/", path: "/data/out.bam" }],
    resources: { cpuCores: 4, ramGb: 16, diskGb: 50 },
    executors: [{ image: "biocontainers/bwa:0.7.17", command: ["bwa", "mem", "/ref/GRCh38.fa", "/data/reads.fq.gz"] }],
  }),
);

export function seedRow(index: number, shape: SeedShape, started: number): SeedRow {
  const row = {
    id: uuidv7(),
    state: index % 50 === 0 ? State.RUNNING : State.COMPLETE,
    name: `sample-${index % 1000}-align`,
    creationTime: new Date(started + index).toISOString(),
    tags: { project: `p${index % shape.tagCardinality}` },
  };
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).string(row.id);
  writer.tag(2, WireType.Varint).int32(row.state);
  writer.tag(3, WireType.LengthDelimited).string(row.name);
  writer.tag(5, WireType.LengthDelimited).fork();
  writer.tag(3, WireType.LengthDelimited).string(`https://acct.blob.core.windows.net/in/sample-${index}.fq.gz`);
  writer.tag(4, WireType.LengthDelimited).string("/data/reads.fq.gz");
  writer.join();
  for (const [key, value] of Object.entries(row.tags)) {
    writer.tag(10, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).string(key).tag(2, WireType.LengthDelimited).string(value);
    writer.join();
  }
  writer.tag(12, WireType.LengthDelimited).string(row.creationTime);
  const varying = writer.finish();
  const document = new Uint8Array(TEMPLATE.length + varying.length);
  document.set(TEMPLATE, 0);
  document.set(varying, TEMPLATE.length);
  return { ...row, document };
}

/** Rows in creation order (ascending ids), in batches, so a million never sit in memory at once. */
function* seedBatches(shape: SeedShape, batchSize: number): Generator<SeedRow[]> {
  const started = Date.now();
  for (let offset = 0; offset < shape.count; offset += batchSize) {
    const batch: SeedRow[] = [];
    for (let index = offset; index < Math.min(shape.count, offset + batchSize); index++) batch.push(seedRow(index, shape, started));
    yield batch;
  }
}

export function seedSqlite(path: string, shape: SeedShape): void {
  const db = new Database(path);
  try {
    // Seeding only: a crash mid-seed just means seeding again.
    db.pragma("synchronous = OFF");
    const insertTask = db.prepare(
      `INSERT INTO tasks (id, owner, state, name, creation_time, version, backend_handle, updated_at, document)
       VALUES (?, ?, ?, ?, ?, 1, '', ?, ?)`,
    );
    const insertTag = db.prepare("INSERT INTO task_tags (task_id, key, value) VALUES (?, ?, ?)");
    const now = Date.now();
    db.transaction(() => {
      for (const batch of seedBatches(shape, 10_000)) {
        for (const task of batch) {
          insertTask.run(task.id, shape.owner, task.state, task.name, task.creationTime, now, task.document);
          for (const [key, value] of Object.entries(task.tags)) insertTag.run(task.id, key, value);
        }
      }
    })();
    db.exec("ANALYZE");
  } finally {
    db.close();
  }
}

export async function seedPostgres(pool: pg.Pool, shape: SeedShape): Promise<void> {
  const now = new Date();
  for (const batch of seedBatches(shape, 5_000)) {
    const tags = batch.flatMap((task) => Object.entries(task.tags).map(([key, value]) => [task.id, key, value] as const));
    await pool.query(
      `WITH inserted AS (
         INSERT INTO tasks (id, owner, state, name, creation_time, version, backend_handle, updated_at, document)
         SELECT id, $2, state, name, creation_time, 1, '', $3, document
         FROM unnest($1::text[], $4::smallint[], $5::text[], $6::text[], $7::bytea[]) AS t (id, state, name, creation_time, document)
       )
       INSERT INTO task_tags (task_id, key, value) SELECT * FROM unnest($8::text[], $9::text[], $10::text[])`,
      [
        batch.map((task) => task.id),
        shape.owner,
        now,
        batch.map((task) => task.state),
        batch.map((task) => task.name),
        batch.map((task) => task.creationTime),
        batch.map((task) => Buffer.from(task.document.buffer, task.document.byteOffset, task.document.byteLength)),
        tags.map(([id]) => id),
        tags.map(([, key]) => key),
        tags.map(([, , value]) => value),
      ],
    );
  }
  // What autovacuum does soon after a bulk load: statistics, and the visibility map for index-only scans.
  await pool.query("VACUUM ANALYZE tasks");
  await pool.query("VACUUM ANALYZE task_tags");
}
