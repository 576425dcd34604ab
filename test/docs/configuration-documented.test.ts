/**
 * Keeps docs/CONFIGURATION.md honest. Every settings loader (each `load*Config` exported from
 * src/config/ and from filetransfer's remote-provider-config.ts, filetransfer's
 * resolveTransferOptions and the logger) is called with an environment that records every name it
 * looks up, under several base environments so that conditional settings are reached (PostgreSQL,
 * TLS, OIDC, Azure Batch, S3 keys). Then:
 * - every name read must be a row of the doc's tables;
 * - every row must name a variable some loader reads, or one the code reads straight from the
 *   process (listed below, and checked against the source);
 * - every read visible in the source (`process.env.NAME`, `env.NAME`, `read.integer("NAME")`) and
 *   every variable the deployment files (docker-compose.yml, deploy/terraform) set must be documented.
 * Pure parsing only: no loader here touches the network.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import * as remoteProviderConfig from "../../filetransfer/src/providers/remote-provider-config.js";
import { resolveTransferOptions } from "../../filetransfer/src/transfer-options.js";
import type { Env } from "../../src/config/env-reader.js";
import { createLogger } from "../../src/logging/logger.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const DOC = readFileSync(path.join(ROOT, "docs", "CONFIGURATION.md"), "utf8");

/** Read by the code outside any loader (passed on to child processes, or set on a Batch task), with the file that does it. */
const READ_OUTSIDE_LOADERS: Readonly<Record<string, string>> = {
  PATH: "src/redis/resolve-redis.ts",
  DOCKER_HOST: "worker/runner/runtimes/engine-runtime.ts",
  DOCKER_CONFIG: "worker/runner/runtimes/engine-runtime.ts",
  DOCKER_CONTEXT: "worker/runner/runtimes/engine-runtime.ts",
  CONTAINER_HOST: "worker/runner/runtimes/engine-runtime.ts",
  XDG_RUNTIME_DIR: "worker/runner/runtimes/engine-runtime.ts",
  HOME: "worker/runner/runtimes/engine-runtime.ts",
  TES_TASK_DOCUMENT: "worker/backends/azure-batch/batch-specs.ts",
  TES_REGISTRY_LOGINS: "worker/runner/cli.ts",
};

/** No home directory: the SFTP and S3 loaders look for ~/.ssh/known_hosts and ~/.aws/credentials there. */
const NO_HOME = { HOME: "/nonexistent/configuration-documented-test" };

/** Base environments; between them every conditional setting is reached. */
const BASE_ENVS: ReadonlyArray<Readonly<Record<string, string>>> = [
  // Defaults: SQLite, plaintext, no sign-in, the local backend.
  { ...NO_HOME },
  // PostgreSQL, TLS, multi-tenant OIDC, Azure Batch with a runner image and a registry, S3 keys.
  {
    ...NO_HOME,
    DATABASE_URL: "postgres://tes@127.0.0.1:5432/tes",
    TLS_CERT_FILE: "/etc/tes/cert.pem",
    TLS_KEY_FILE: "/etc/tes/key.pem",
    TES_AUTH_MODE: "oidc",
    OIDC_ISSUER: "https://login.microsoftonline.com/{tenantid}/v2.0",
    OIDC_DISCOVERY_URL: "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
    OIDC_AUDIENCE: "00000000-0000-0000-0000-000000000001",
    OIDC_ALLOWED_TENANTS: "*",
    TES_BACKEND: "azure-batch",
    TES_CONTAINER_RUNTIME: "bwrap",
    AZURE_BATCH_ACCOUNT_URL: "https://tesbatch.westeurope.batch.azure.com",
    AZURE_BATCH_RUNNER_IMAGE: "myregistry.azurecr.io/tes-runner:1.0",
    AZURE_BATCH_CONTAINER_REGISTRIES: JSON.stringify([
      {
        server: "myregistry.azurecr.io",
        identityResourceId:
          "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tes-pool",
      },
    ]),
    AZURE_BATCH_TASK_DOCUMENTS_URL: "https://tesstore.blob.core.windows.net/task-documents",
    // An identity registry needs pools made through ARM: the account's ARM coordinates.
    AZURE_BATCH_SUBSCRIPTION_ID: "00000000-0000-0000-0000-000000000000",
    AZURE_BATCH_RESOURCE_GROUP: "tes-rg",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "example-secret-access-key",
  },
  // An exact issuer; Azure Batch with task documents in the Batch task (development).
  {
    ...NO_HOME,
    TES_AUTH_MODE: "oidc",
    OIDC_ISSUER: "https://issuer.example.org",
    OIDC_AUDIENCE: "api://tes",
    AZURE_BATCH_ACCOUNT_URL: "https://tesbatch.westeurope.batch.azure.com",
    AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
  },
];

/** An environment that records every name looked up in it. */
function recordingEnv(base: Readonly<Record<string, string>>, seen: Set<string>): Env {
  return new Proxy<Record<string, string | undefined>>(
    { ...base },
    {
      get(target, key, receiver) {
        if (typeof key === "string") seen.add(key);
        return Reflect.get(target, key, receiver);
      },
      has(target, key) {
        if (typeof key === "string") seen.add(key);
        return Reflect.has(target, key);
      },
    },
  );
}

type Loader = (env: Env) => unknown;

/** Every `load*Config` exported by the modules of src/config/ and by filetransfer's provider settings. */
async function findLoaders(): Promise<Map<string, Loader>> {
  const loaders = new Map<string, Loader>();
  const add = (where: string, module: Record<string, unknown>) => {
    for (const [name, value] of Object.entries(module)) {
      if (/^load\w*Config$/.test(name) && typeof value === "function") loaders.set(`${where}: ${name}`, value as Loader);
    }
  };
  const configDir = path.join(ROOT, "src", "config");
  for (const file of readdirSync(configDir).sort()) {
    if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
    add(`src/config/${file}`, (await import(pathToFileURL(path.join(configDir, file)).href)) as Record<string, unknown>);
  }
  add("filetransfer/src/providers/remote-provider-config.ts", remoteProviderConfig);
  // Loaders by another name: filetransfer's options, the logger (LOG_LEVEL, LOG_FORMAT).
  loaders.set("filetransfer/src/transfer-options.ts: resolveTransferOptions", (env) => resolveTransferOptions({ env }));
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  loaders.set("src/logging/logger.ts: createLogger", (env) => createLogger(env, { destination: discard, isTty: false }));
  return loaders;
}

/** Calls every loader with every base environment; the names read, and each loader's failures. */
async function recordReads(): Promise<{ read: Set<string>; loaders: string[]; neverLoaded: string[] }> {
  const read = new Set<string>();
  const loaders = await findLoaders();
  const neverLoaded: string[] = [];
  for (const [name, load] of loaders) {
    const errors: string[] = [];
    for (const base of BASE_ENVS) {
      try {
        load(recordingEnv(base, read));
      } catch (error) {
        // A base meant for another part (say, no AZURE_BATCH_ACCOUNT_URL): the names read up to the error still count.
        errors.push((error as Error).message);
      }
    }
    if (errors.length === BASE_ENVS.length) neverLoaded.push(`${name}: ${errors.join(" / ")}`);
  }
  return { read, loaders: [...loaders.keys()], neverLoaded };
}

interface DocumentedRow {
  readonly name: string;
  readonly cells: readonly string[];
}

/** The doc's table rows whose first cell is a `VARIABLE`. */
function documentedRows(): DocumentedRow[] {
  const rows: DocumentedRow[] = [];
  for (const line of DOC.split("\n")) {
    const match = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/.exec(line);
    if (match === null) continue;
    const cells = line.replace(/^\|/, "").replace(/\|\s*$/, "").split("|").map((cell) => cell.trim());
    rows.push({ name: match[1] as string, cells });
  }
  return rows;
}

/** Production source files (no tests, no generated code, no dependencies). */
function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && entry.name !== "gen") files.push(...sourceFiles(full));
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
      files.push(full);
    }
  }
  return files;
}

const recorded = await recordReads();
const rows = documentedRows();
const documented = new Set(rows.map((row) => row.name));

test("every loader runs to the end under at least one base environment", () => {
  assert.ok(recorded.loaders.length >= 14, `expected every loader, found ${recorded.loaders.join(", ")}`);
  assert.deepEqual(recorded.neverLoaded, [], "add a base environment in which these loaders succeed, so all their settings are read");
});

test("every variable a loader reads is a row of docs/CONFIGURATION.md", () => {
  const missing = [...recorded.read].filter((name) => !documented.has(name)).sort();
  assert.deepEqual(missing, [], "document these in docs/CONFIGURATION.md (a table row starting with | `NAME` |)");
});

test("every variable docs/CONFIGURATION.md documents is read by the code", () => {
  const unread = [...documented].filter((name) => !recorded.read.has(name) && READ_OUTSIDE_LOADERS[name] === undefined).sort();
  assert.deepEqual(unread, [], "these rows name settings nothing reads: remove them, or fix the loader");
  for (const [name, file] of Object.entries(READ_OUTSIDE_LOADERS)) {
    assert.ok(documented.has(name), `${name} (read in ${file}) is not documented`);
    const text = readFileSync(path.join(ROOT, file), "utf8");
    assert.ok(text.includes(`"${name}"`) || text.includes(`process.env.${name}`), `${file} no longer reads ${name}`);
  }
});

/** Reads visible in the source: process.env.NAME, env.NAME, env["NAME"], and EnvReader calls such as read.integer("NAME", ...). */
const READ_PATTERNS = [
  /\benv\??\.([A-Z][A-Z0-9_]*)\b/g,
  /\benv\[\s*["'`]([A-Z][A-Z0-9_]*)["'`]\s*\]/g,
  /\.(?:string|optionalString|integer|number|boolean|oneOf|list|optionalUrl)\(\s*["'`]([A-Z][A-Z0-9]*_[A-Z0-9_]*|[A-Z]{3,})["'`]\s*,?/g,
];

test("every variable the source visibly reads (process.env.NAME, env.NAME, read.x(\"NAME\")) is documented", () => {
  const named = new Map<string, string>();
  for (const dir of ["src", "worker", path.join("filetransfer", "src")]) {
    for (const file of sourceFiles(path.join(ROOT, dir))) {
      const text = readFileSync(file, "utf8");
      for (const pattern of READ_PATTERNS) {
        for (const match of text.matchAll(pattern)) named.set(match[1] as string, path.relative(ROOT, file));
      }
    }
  }
  assert.ok(named.has("PORT") && named.has("PATH"), "the source scan found no reads: its patterns are broken");
  const missing = [...named].filter(([name]) => !documented.has(name)).map(([name, file]) => `${name} (${file})`).sort();
  assert.deepEqual(missing, [], "the code reads these: document them in docs/CONFIGURATION.md");
});

test("each row has a variable, a default, what it does, and which process reads it", () => {
  const seen = new Set<string>();
  for (const row of rows) {
    assert.equal(row.cells.length, 4, `the row of ${row.name} must have 4 cells, has ${row.cells.length}`);
    assert.ok(!seen.has(row.name), `${row.name} is documented twice`);
    seen.add(row.name);
    assert.ok((row.cells[1] ?? "") !== "" && (row.cells[2] ?? "") !== "", `${row.name} needs a default and a description`);
    assert.match(row.cells[3] ?? "", /^(server|worker|both|node)(, (server|worker|both|node))*$/, `${row.name}: "read by" must be server, worker, both or node`);
  }
});

test("every variable docker-compose.yml and deploy/terraform set for tes is documented", () => {
  const compose = parseYaml(readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8")) as {
    services: Record<string, { environment?: Record<string, unknown> }>;
  };
  const set = new Map<string, string>();
  for (const service of ["server", "worker"]) {
    for (const name of Object.keys(compose.services[service]?.environment ?? {})) set.set(name, `docker-compose.yml ${service}`);
  }
  const terraformDir = path.join(ROOT, "deploy", "terraform");
  for (const file of readdirSync(terraformDir).filter((name) => name.endsWith(".tf"))) {
    // Environment maps are the only HCL keys in upper case (common_env, secret_env, the apps' env blocks).
    for (const match of readFileSync(path.join(terraformDir, file), "utf8").matchAll(/^\s+([A-Z][A-Z0-9_]*)\s+=/gm)) {
      set.set(match[1] as string, `deploy/terraform/${file}`);
    }
  }
  assert.ok(set.has("DATABASE_URL"), "found no settings in the deployment files: the scan is broken");
  const missing = [...set].filter(([name]) => !documented.has(name)).map(([name, where]) => `${name} (${where})`).sort();
  assert.deepEqual(missing, [], "the deployment sets these, which nothing documents (or reads)");
});
