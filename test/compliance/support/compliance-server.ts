import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { redisAddressFromUrl } from "../../../src/redis/redis-address.js";
import { TesProcess } from "../../operations/serve-process.js";
import { localServerEnv } from "../../support/local-server-env.js";
import { removeQueues, TEST_REDIS_URL } from "../../worker-support/harness.js";

/** The two stores a real deployment runs on: embedded SQLite (the default) and PostgreSQL. */
export type StoreKind = "sqlite" | "postgres";
export const STORES: readonly StoreKind[] = ["sqlite", "postgres"];

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A real `tes serve` child process (API and one worker, the local backend with the bwrap sandbox)
 * on a free loopback port, with its data in a temp dir, its own queue prefix, and for PostgreSQL
 * its own schema: what a TES client meets when it talks to a deployed server.
 */
export interface ComplianceServer {
  /** http://127.0.0.1:PORT, the root a client is configured with. */
  readonly root: string;
  /** root + /ga4gh/tes/v1, the spec's base path. */
  readonly api: string;
  /** A directory the server may read inputs from and write outputs to (TES_ALLOWED_DIRS). */
  readonly files: string;
  /** Everything the process printed, for assertions and failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startComplianceServer(store: StoreKind, label: string): Promise<ComplianceServer> {
  const dir = await mkdtemp(join(tmpdir(), `tes-compliance-${label}-`));
  const files = join(dir, "files");
  await mkdir(files, { recursive: true });
  const suffix = randomBytes(5).toString("hex");
  const prefix = `tes-compliance-${label}-${suffix}`;
  const schema = `tes_compliance_${label.replaceAll("-", "_")}_${suffix}`;
  const env: Record<string, string> = { ...localServerEnv(dir, prefix), TES_ALLOWED_DIRS: files, LOG_LEVEL: "info" };
  if (store === "postgres") {
    env.DATABASE_URL = TEST_DATABASE_URL;
    env.TES_DATABASE_SCHEMA = schema;
    env.TES_DATABASE_POOL_SIZE = "4";
  } else {
    // An inherited DATABASE_URL would silently turn the SQLite run into a PostgreSQL one.
    env.DATABASE_URL = "";
  }

  const cleanup = async (): Promise<void> => {
    await removeQueues(redisAddressFromUrl(new URL(TEST_REDIS_URL)).options, prefix).catch(() => {});
    if (store === "postgres") {
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  let process: TesProcess;
  try {
    process = await TesProcess.start("serve", env, 60_000);
  } catch (error) {
    await cleanup();
    throw error;
  }
  const root = process.baseUrl;
  return {
    root,
    api: `${root}/ga4gh/tes/v1`,
    files,
    output: () => process.output.text,
    async stop() {
      const code = await process.stop("SIGTERM", 20_000);
      await cleanup();
      if (code !== 0) throw new Error(`tes serve exited with ${String(code)}:\n${process.output.text.slice(-4000)}`);
    },
  };
}
