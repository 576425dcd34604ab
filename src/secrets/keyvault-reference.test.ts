import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isKeyVaultReference, KeyVaultReferenceError, parseKeyVaultReference } from "./keyvault-reference.js";

describe("Key Vault references (App Service syntax)", () => {
  it("reads SecretUri with and without a version, with or without the trailing slash", () => {
    assert.deepEqual(parseKeyVaultReference("X", "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/mysecret/)"), {
      vaultUrl: "https://myvault.vault.azure.net",
      secretName: "mysecret",
      version: undefined,
    });
    assert.deepEqual(
      parseKeyVaultReference("X", " @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/mysecret/ec96f02080254f109c51a1f14cdb1931) "),
      { vaultUrl: "https://myvault.vault.azure.net", secretName: "mysecret", version: "ec96f02080254f109c51a1f14cdb1931" },
    );
  });

  it("reads VaultName;SecretName[;SecretVersion] with the cloud's DNS suffix", () => {
    assert.deepEqual(parseKeyVaultReference("X", "@Microsoft.KeyVault(VaultName=MyVault;SecretName=db-password)"), {
      vaultUrl: "https://myvault.vault.azure.net",
      secretName: "db-password",
      version: undefined,
    });
    assert.deepEqual(parseKeyVaultReference("X", "@Microsoft.KeyVault(VaultName=myvault;SecretName=s;SecretVersion=abc123)", "vault.azure.cn"), {
      vaultUrl: "https://myvault.vault.azure.cn",
      secretName: "s",
      version: "abc123",
    });
  });

  it("tells references from plain values", () => {
    assert.equal(isKeyVaultReference("@Microsoft.KeyVault(VaultName=v;SecretName=s)"), true);
    assert.equal(isKeyVaultReference("postgres://u:p@h/db"), false);
    assert.equal(isKeyVaultReference(undefined), false);
  });

  const bad: Array<[string, RegExp]> = [
    ["@Microsoft.KeyVault(SecretUri=http://myvault.vault.azure.net/secrets/s)", /X: the Key Vault SecretUri must be https$/],
    ["@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/keys/s)", /secrets\/<name>/],
    ["@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/s?x=1)", /secrets\/<name>/],
    ["@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/bad_name)", /"bad_name" is not a Key Vault secret name/],
    ["@Microsoft.KeyVault(VaultName=myvault)", /needs SecretUri, or VaultName and SecretName/],
    ["@Microsoft.KeyVault(VaultName=my.vault;SecretName=s)", /"my.vault" is not a Key Vault name/],
    ["@Microsoft.KeyVault(VaultName=v1v;SecretName=s;Colour=red)", /unknown parts: Colour/],
    ["@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s;SecretName=t)", /takes nothing else/],
    ["@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s", /is not a Key Vault reference/],
  ];
  for (const [value, message] of bad) {
    it(`refuses ${value}`, () => {
      assert.throws(() => parseKeyVaultReference("X", value), (error: unknown) => error instanceof KeyVaultReferenceError && message.test(error.message));
    });
  }
});
