import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GetTokenOptions, TokenCredential } from "@azure/identity";
import { resolveSecretReferences, SecretResolutionError } from "../../src/secrets/resolve-secret-references.js";
import { captureLogs } from "../auth/capture-logs.js";
import { KeyVaultStandin } from "../support/keyvault-standin.js";

/** Hands out the stand-in's token and records what the SDK asked for (scope and challenge tenant). */
class RecordingCredential implements TokenCredential {
  readonly asked: Array<{ scopes: string[]; tenantId: string | undefined }> = [];
  async getToken(scopes: string | string[], options?: GetTokenOptions) {
    this.asked.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
    return { token: KeyVaultStandin.TOKEN, expiresOnTimestamp: Date.now() + 3600_000 };
  }
}

describe("Key Vault references resolved against a local stand-in of the Key Vault secrets API", () => {
  let vault: KeyVaultStandin;
  before(async () => {
    vault = await KeyVaultStandin.start();
  });
  after(() => vault.close());
  const clientOptions = () => ({
    tlsOptions: { ca: vault.ca },
    // The stand-in is 127.0.0.1, not *.vault.azure.net, which the SDK checks the challenge against.
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
  });

  it("replaces each reference by its secret's value, latest or pinned version, through the bearer challenge", async () => {
    const password = "pg-pass-" + Math.random().toString(36).slice(2);
    vault.setSecret("db-url", `postgres://tes:${password}@db:5432/tes`);
    const pinned = vault.setSecret("batch-key", "first-key");
    vault.setSecret("batch-key", "second-key");
    const credential = new RecordingCredential();
    const resolved = await resolveSecretReferences(
      {
        DATABASE_URL: vault.reference("db-url"),
        BATCH_KEY: vault.reference("batch-key", pinned),
        PLAIN: "not a reference",
        TES_KEYVAULT_REFRESH_SECONDS: "0",
      },
      { credential, clientOptions: clientOptions() },
    );
    try {
      assert.equal(resolved.env.DATABASE_URL, `postgres://tes:${password}@db:5432/tes`);
      assert.equal(resolved.env.BATCH_KEY, "first-key", "a version in the reference pins it");
      assert.equal(resolved.env.PLAIN, "not a reference");
      assert.deepEqual([...resolved.variables].sort(), ["BATCH_KEY", "DATABASE_URL"]);
      assert.deepEqual(credential.asked[0], { scopes: ["https://vault.azure.net/.default"], tenantId: vault.tenantId });
      assert.ok(vault.requests.some((r) => !r.authorized), "the first request went without a token (the challenge)");
    } finally {
      resolved.stop();
    }
  });

  it("stops start-up when a vault cannot be reached, naming the variable", async () => {
    // VaultName=myvault with suffix "invalid" is https://myvault.invalid: a name that never resolves.
    await assert.rejects(
      resolveSecretReferences(
        { X: "@Microsoft.KeyVault(VaultName=myvault;SecretName=via-name)", TES_KEYVAULT_DNS_SUFFIX: "invalid", TES_KEYVAULT_REFRESH_SECONDS: "0" },
        { credential: new RecordingCredential(), clientOptions: clientOptions() },
      ),
      (error: unknown) => error instanceof SecretResolutionError && /^cannot resolve the Key Vault references in X \(Key Vault could not be reached/.test(error.message),
    );
  });

  it("stops start-up naming every variable it cannot resolve, and why, never a value", async () => {
    vault.setSecret("fine", "fine-secret-value");
    vault.setSecret("off", "disabled-secret-value");
    vault.disable("off");
    vault.setSecret("old", "expired-secret-value", { expiresOn: new Date(Date.now() - 60_000) });
    const error = await resolveSecretReferences(
      {
        A: vault.reference("fine"),
        B: vault.reference("missing"),
        C: vault.reference("off"),
        D: vault.reference("old"),
        E: "@Microsoft.KeyVault(SecretUri=http://127.0.0.1/secrets/x)",
        TES_KEYVAULT_REFRESH_SECONDS: "0",
      },
      { credential: new RecordingCredential(), clientOptions: clientOptions() },
    ).then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SecretResolutionError);
    assert.equal(error.message, "cannot resolve the Key Vault references in E (the Key Vault SecretUri must be https)");

    const second = await resolveSecretReferences(
      { A: vault.reference("fine"), B: vault.reference("missing"), C: vault.reference("off"), D: vault.reference("old"), TES_KEYVAULT_REFRESH_SECONDS: "0" },
      { credential: new RecordingCredential(), clientOptions: clientOptions() },
    ).then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(second instanceof SecretResolutionError);
    assert.deepEqual(
      second.failures.map((f) => f.variable),
      ["B", "C", "D"],
    );
    assert.match(second.message, /B \(Key Vault answered HTTP 404 SecretNotFound\)/);
    assert.match(second.message, /C \(Key Vault answered HTTP 403 Forbidden \(SecretDisabled\)\)/);
    assert.match(second.message, /D \(secret old expired at /);
    for (const value of ["fine-secret-value", "disabled-secret-value", "expired-secret-value"]) {
      assert.ok(!second.message.includes(value) && !String(second.stack).includes(value), "no value in the error");
    }
  });

  it("re-reads on refresh: a rotated secret replaces the old value in place, a failed re-read keeps it, and nothing logs a value", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const changes: string[][] = [];
    vault.setSecret("rotating", "value-one");
    const resolved = await resolveSecretReferences(
      { ROTATING: vault.reference("rotating"), TES_KEYVAULT_REFRESH_SECONDS: "3600" },
      { credential: new RecordingCredential(), clientOptions: clientOptions(), logger: captureLogs(lines), onChange: (v) => changes.push([...v]) },
    );
    try {
      const env = resolved.env;
      assert.equal(env.ROTATING, "value-one");
      assert.deepEqual(await resolved.refresh(), [], "unchanged");
      vault.setSecret("rotating", "value-two");
      assert.deepEqual(await resolved.refresh(), ["ROTATING"]);
      assert.equal(env.ROTATING, "value-two", "the same env object holds the new value");
      assert.deepEqual(changes, [["ROTATING"]]);
      vault.disable("rotating");
      assert.deepEqual(await resolved.refresh(), []);
      assert.equal(env.ROTATING, "value-two", "a failed re-read keeps the last good value");
      const logged = JSON.stringify(lines);
      assert.match(logged, /resolved 1 Key Vault reference/);
      assert.match(logged, /re-reading Key Vault secrets failed/);
      assert.ok(!logged.includes("value-one") && !logged.includes("value-two"), "no value in the logs");
    } finally {
      resolved.stop();
    }
  });

  it("touches no credential and no network when the environment holds no reference", async () => {
    const credential = new RecordingCredential();
    const before = vault.requests.length;
    const resolved = await resolveSecretReferences({ PORT: "8000" }, { credential });
    assert.deepEqual(resolved.env, { PORT: "8000" });
    assert.equal(credential.asked.length, 0);
    assert.equal(vault.requests.length, before);
  });
});
