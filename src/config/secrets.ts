import { EnvReader, type Env } from "./env-reader.js";

/** How Key Vault references in the configuration are resolved (see src/secrets/). */
export interface SecretsConfig {
  /**
   * TES_KEYVAULT_REFRESH_SECONDS: how often every referenced secret is read again; a changed value
   * replaces the old one in the resolved environment. Default 3600; 0 reads them at start-up only.
   */
  readonly refreshIntervalSeconds: number;
  /** TES_KEYVAULT_DNS_SUFFIX: the vault host suffix for VaultName references. Default vault.azure.net. */
  readonly dnsSuffix: string;
  /**
   * AZURE_CLIENT_ID (read by @azure/identity): the client id of a user-assigned managed identity;
   * unset: the system-assigned identity (or whatever DefaultAzureCredential finds first).
   */
  readonly managedIdentityClientId: string | undefined;
}

export function loadSecretsConfig(env: Env): SecretsConfig {
  const read = new EnvReader(env);
  return {
    refreshIntervalSeconds: read.integer("TES_KEYVAULT_REFRESH_SECONDS", 3600, { min: 0, max: 7 * 24 * 3600 }),
    dnsSuffix: read.string("TES_KEYVAULT_DNS_SUFFIX", "vault.azure.net"),
    managedIdentityClientId: read.optionalString("AZURE_CLIENT_ID"),
  };
}
