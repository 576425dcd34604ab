import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { GetTokenOptions, TokenCredential } from "@azure/identity";
import { createAuthentication } from "../../src/auth/authentication.js";
import { loadAuthConfig } from "../../src/config/auth.js";
import { loadLimitsConfig } from "../../src/config/limits.js";
import { loadServerConfig } from "../../src/config/server.js";
import { loadServiceInfoConfig } from "../../src/config/service-info.js";
import { describeStoreConfig, loadStoreConfig } from "../../src/config/store.js";
import { resolveSecretReferences, type ResolvedSecrets } from "../../src/secrets/resolve-secret-references.js";
import { createTesServer, type TesServer } from "../../src/server/tes-server.js";
import { createTaskService } from "../../src/service/task-service.js";
import { RecordingQueue } from "../../src/service/testing/recording-queue.js";
import { openTaskStore } from "../../src/store/open-task-store.js";
import type { TaskStore } from "../../src/store/task-store.js";
import { captureLogs } from "../auth/capture-logs.js";
import { KeyVaultStandin } from "../support/keyvault-standin.js";
import { OidcTestIssuer } from "../support/oidc-issuer.js";

const credential: TokenCredential = {
  async getToken(_scopes: string | string[], _options?: GetTokenOptions) {
    return { token: KeyVaultStandin.TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
  },
};

/**
 * The server composed as in production from an environment whose DATABASE_URL (with its password)
 * comes from Key Vault: the password and the token must appear in no response (service-info,
 * errors of every kind, auth refusals) and in no log line, debug level included.
 */
describe("a secret from Key Vault reaches neither a response nor the logs", () => {
  const password = `kv-${randomBytes(12).toString("hex")}`;
  const schema = `tes_kv_${randomBytes(6).toString("hex")}`;
  const databaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const lines: Array<Record<string, unknown>> = [];
  const seen: string[] = [];
  let vault: KeyVaultStandin;
  let issuer: OidcTestIssuer;
  let secrets: ResolvedSecrets;
  let store: TaskStore;
  let server: TesServer;
  let base: string;

  before(async () => {
    vault = await KeyVaultStandin.start();
    issuer = await OidcTestIssuer.start();
    const withPassword = new URL(databaseUrl);
    withPassword.password = password; // trust authentication on the test server ignores it
    vault.setSecret("database-url", withPassword.href);
    const logger = captureLogs(lines, "trace");
    secrets = await resolveSecretReferences(
      {
        DATABASE_URL: vault.reference("database-url"),
        TES_DATABASE_SCHEMA: schema,
        TES_AUTH_MODE: "oidc",
        OIDC_ISSUER: issuer.issuer,
        OIDC_AUDIENCE: "api://tes",
        TES_ISOLATION: "per-user",
        PORT: "0",
        HOST: "127.0.0.1",
      },
      { credential, clientOptions: { tlsOptions: { ca: vault.ca }, disableChallengeResourceVerification: true }, logger },
    );
    const storeConfig = loadStoreConfig(secrets.env);
    logger.info({ store: describeStoreConfig(storeConfig), config: storeConfig }, "store");
    store = await openTaskStore(storeConfig);
    const auth = createAuthentication(loadAuthConfig(secrets.env), { logger });
    await auth.load();
    server = createTesServer({
      config: loadServerConfig(secrets.env),
      taskService: createTaskService({
        store,
        queue: new RecordingQueue(),
        backend: { name: "test", backendParameters: [], storage: ["file:///srv"] },
        serviceInfo: loadServiceInfoConfig(secrets.env),
        limits: loadLimitsConfig(secrets.env),
        logger,
      }),
      interceptors: [...auth.interceptors],
      onInternalError: (error, procedure) => logger.error({ err: error, procedure }, "internal error"),
    });
    base = `http://127.0.0.1:${(await server.listen()).port}/ga4gh/tes/v1`;
  });
  after(async () => {
    secrets.stop();
    await server.close();
    await store.close();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await issuer.close();
    await vault.close();
  });

  async function call(path: string, init: RequestInit = {}): Promise<number> {
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    const headers: string[] = [];
    response.headers.forEach((value, name) => headers.push(`${name}: ${value}`));
    seen.push(text, ...headers);
    return response.status;
  }

  it("answers service-info, tasks, refusals and errors without the secret", async () => {
    assert.equal(secrets.env.DATABASE_URL?.includes(password), true, "the store got the secret");
    const token = await issuer.token();
    const auth = { authorization: `Bearer ${token}` };
    assert.equal(await call("/service-info"), 200);
    assert.equal(await call("/tasks"), 401);
    assert.equal(await call("/tasks", { headers: { authorization: "Bearer a.b.c" } }), 401);
    assert.equal(await call("/tasks", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"executors":[{"image":"alpine","command":["true"]}]}' }), 200);
    assert.equal(await call("/tasks?view=FULL", { headers: auth }), 200);
    assert.equal(await call("/tasks/0190d8f6-8d29-7f00-8000-000000000000", { headers: auth }), 404);
    assert.equal(await call("/tasks", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{not json" }), 400);
    assert.equal(await call("/tasks?page_token=forged", { headers: auth }), 400);

    // A store failure: the database loses the schema under the server.
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.end();
    assert.equal(await call("/tasks", { headers: auth }), 500);

    for (const text of seen) assert.ok(!text.includes(password), `a response holds the secret: ${text.slice(0, 200)}`);
    const logged = JSON.stringify(lines);
    assert.ok(lines.some((line) => line.level === 50), "the store failure was logged");
    assert.ok(!logged.includes(password), "a log line holds the secret");
    assert.ok(!logged.includes(token.split(".")[2]!), "a log line holds the bearer token");
    assert.ok(!logged.includes(KeyVaultStandin.TOKEN), "a log line holds the Key Vault token");
  });
});
