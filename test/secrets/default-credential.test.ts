import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { resolveSecretReferences, SecretResolutionError } from "../../src/secrets/resolve-secret-references.js";
import { KeyVaultStandin } from "../support/keyvault-standin.js";

describe("Key Vault references without a credential given: DefaultAzureCredential", () => {
  let vault: KeyVaultStandin;
  const saved = process.env.AZURE_TOKEN_CREDENTIALS;
  before(async () => {
    vault = await KeyVaultStandin.start();
    // Only the managed identity, as in Azure; here (no IMDS identity) it has none to give.
    process.env.AZURE_TOKEN_CREDENTIALS = "ManagedIdentityCredential";
  });
  after(async () => {
    if (saved === undefined) delete process.env.AZURE_TOKEN_CREDENTIALS;
    else process.env.AZURE_TOKEN_CREDENTIALS = saved;
    await vault.close();
  });

  it("stops start-up with one sentence saying no Azure credential could get a token", async () => {
    vault.setSecret("x", "never-read");
    await assert.rejects(
      resolveSecretReferences(
        { X: vault.reference("x"), TES_KEYVAULT_REFRESH_SECONDS: "0" },
        { clientOptions: { tlsOptions: { ca: vault.ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } } },
      ),
      (error: unknown) =>
        error instanceof SecretResolutionError &&
        error.message === "cannot resolve the Key Vault references in X (no Azure credential could get a token for Key Vault (managed identity, AZURE_CLIENT_ID, az login))",
    );
    assert.ok(vault.requests.every((r) => !r.authorized), "no token ever reached the vault");
  });
});
