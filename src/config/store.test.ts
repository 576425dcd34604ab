import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { inspect } from "node:util";
import { ConfigError } from "./env-reader.js";
import { describeStoreConfig, loadStoreConfig } from "./store.js";

test("without DATABASE_URL the store is SQLite at TES_DATA_DIR/tes.sqlite, ./data by default", () => {
  assert.deepEqual(loadStoreConfig({}), { kind: "sqlite", path: resolve("data", "tes.sqlite"), busyTimeoutInMs: 5000, viewCacheBytes: 16 * 1024 * 1024 });
  const config = loadStoreConfig({ TES_DATA_DIR: "/var/lib/tes", TES_SQLITE_BUSY_TIMEOUT_MS: "250", TES_TASK_VIEW_CACHE_BYTES: "0" });
  assert.deepEqual(config, { kind: "sqlite", path: "/var/lib/tes/tes.sqlite", busyTimeoutInMs: 250, viewCacheBytes: 0 });
});

test("DATABASE_URL selects PostgreSQL with its pool settings", () => {
  const config = loadStoreConfig({
    DATABASE_URL: "postgres://tes:s3cret@db.example:5432/tes?sslmode=require",
    TES_DATABASE_POOL_SIZE: "25",
    TES_DATABASE_SCHEMA: "tes_prod",
    TES_DATABASE_STATEMENT_TIMEOUT_MS: "0",
    TES_TASK_VIEW_CACHE_BYTES: "1048576",
  });
  assert.equal(config.kind, "postgres");
  if (config.kind !== "postgres") return;
  assert.equal(config.url.reveal(), "postgres://tes:s3cret@db.example:5432/tes?sslmode=require");
  assert.equal(config.poolSize, 25);
  assert.equal(config.schema, "tes_prod");
  assert.equal(config.connectTimeoutInMs, 10_000);
  assert.equal(config.statementTimeoutInMs, 0);
  assert.equal(config.viewCacheBytes, 1024 * 1024);
});

test("the database password never shows in strings, JSON, inspection or the description", () => {
  const config = loadStoreConfig({ DATABASE_URL: "postgresql://tes:s3cret@db.example/tes?password=also-secret" });
  const shown = [
    String(config.kind === "postgres" ? config.url : ""),
    JSON.stringify(config),
    inspect(config, { depth: 5 }),
    `${describeStoreConfig(config)}`,
  ];
  for (const text of shown) {
    assert.ok(!text.includes("s3cret") && !text.includes("also-secret"), text);
    assert.ok(text.includes("db.example"), text);
  }
});

test("bad settings fail with an error naming the setting, never echoing the URL", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ DATABASE_URL: "not a url with s3cret" }, /^DATABASE_URL must be a URL$/],
    [{ DATABASE_URL: "mysql://u:s3cret@h/db" }, /DATABASE_URL must be a postgres/],
    [{ DATABASE_URL: "postgres://h/db", TES_DATABASE_POOL_SIZE: "0" }, /TES_DATABASE_POOL_SIZE/],
    [{ DATABASE_URL: "postgres://h/db", TES_DATABASE_SCHEMA: "Bad-Schema;drop" }, /TES_DATABASE_SCHEMA/],
    [{ DATABASE_URL: "postgres://h/db", TES_DATABASE_CONNECT_TIMEOUT_MS: "soon" }, /TES_DATABASE_CONNECT_TIMEOUT_MS/],
    [{ TES_SQLITE_BUSY_TIMEOUT_MS: "-1" }, /TES_SQLITE_BUSY_TIMEOUT_MS/],
    [{ TES_TASK_VIEW_CACHE_BYTES: "-1" }, /TES_TASK_VIEW_CACHE_BYTES/],
    [{ DATABASE_URL: "postgres://h/db", TES_TASK_VIEW_CACHE_BYTES: "2147483648" }, /TES_TASK_VIEW_CACHE_BYTES/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadStoreConfig(env), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      assert.ok(!error.message.includes("s3cret"));
      return true;
    });
  }
});
