/**
 * A Key Vault reference in a configuration value, in the syntax Azure App Service and Functions
 * use for app settings, so one value works whether the platform resolves it or we do:
 *
 *   @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/mysecret/)
 *   @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/mysecret/ec96f02080254f109c51a1f14cdb1931)
 *   @Microsoft.KeyVault(VaultName=myvault;SecretName=mysecret)
 *   @Microsoft.KeyVault(VaultName=myvault;SecretName=mysecret;SecretVersion=ec96f02080254f109c51a1f14cdb1931)
 *
 * Without a version the latest one is read. VaultName maps to https://{name}.{dnsSuffix}
 * (vault.azure.net in Azure's public cloud). Only https vault URLs are accepted.
 */
export interface KeyVaultReference {
  /** https://myvault.vault.azure.net (origin only). */
  readonly vaultUrl: string;
  readonly secretName: string;
  /** Undefined: the latest version. */
  readonly version: string | undefined;
}

export class KeyVaultReferenceError extends Error {
  override readonly name = "KeyVaultReferenceError";
}

const PREFIX = "@Microsoft.KeyVault(";
/** Key Vault object names: 1-127 letters, digits and dashes. */
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
const VERSION = /^[0-9A-Za-z]{1,64}$/;
/** Vault names: 3-24 letters, digits and dashes, starting with a letter. */
const VAULT_NAME = /^[A-Za-z][0-9A-Za-z-]{1,22}[0-9A-Za-z]$/;

/** Whether a configuration value is a Key Vault reference (to resolve), rather than a plain value. */
export function isKeyVaultReference(value: string | undefined): value is string {
  return value !== undefined && value.trimStart().startsWith(PREFIX);
}

/**
 * The reference in `value`, set in the variable `variable` (named in errors; the reference itself
 * holds no secret, so errors may quote it).
 */
export function parseKeyVaultReference(variable: string, value: string, dnsSuffix = "vault.azure.net"): KeyVaultReference {
  const text = value.trim();
  if (!text.startsWith(PREFIX) || !text.endsWith(")")) {
    throw new KeyVaultReferenceError(`${variable} is not a Key Vault reference of the form @Microsoft.KeyVault(SecretUri=...) or @Microsoft.KeyVault(VaultName=...;SecretName=...)`);
  }
  const fields = new Map<string, string>();
  for (const part of text.slice(PREFIX.length, -1).split(";")) {
    if (part.trim() === "") continue;
    const at = part.indexOf("=");
    if (at <= 0) throw new KeyVaultReferenceError(`${variable}: the Key Vault reference has a part without "name=value": "${part}"`);
    const key = part.slice(0, at).trim();
    if (fields.has(key)) throw new KeyVaultReferenceError(`${variable}: the Key Vault reference names ${key} twice`);
    fields.set(key, part.slice(at + 1).trim());
  }
  const secretUri = fields.get("SecretUri");
  if (secretUri !== undefined) {
    if (fields.size !== 1) throw new KeyVaultReferenceError(`${variable}: a Key Vault reference with SecretUri takes nothing else`);
    return fromSecretUri(variable, secretUri);
  }
  const unknown = [...fields.keys()].filter((key) => !["VaultName", "SecretName", "SecretVersion"].includes(key));
  if (unknown.length > 0) throw new KeyVaultReferenceError(`${variable}: the Key Vault reference has unknown parts: ${unknown.join(", ")}`);
  const vaultName = fields.get("VaultName");
  const secretName = fields.get("SecretName");
  if (vaultName === undefined || secretName === undefined) {
    throw new KeyVaultReferenceError(`${variable}: the Key Vault reference needs SecretUri, or VaultName and SecretName`);
  }
  if (!VAULT_NAME.test(vaultName)) throw new KeyVaultReferenceError(`${variable}: "${vaultName}" is not a Key Vault name (3-24 letters, digits and dashes)`);
  return checked(variable, { vaultUrl: `https://${vaultName.toLowerCase()}.${dnsSuffix}`, secretName, version: emptyToUndefined(fields.get("SecretVersion")) });
}

function fromSecretUri(variable: string, raw: string): KeyVaultReference {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KeyVaultReferenceError(`${variable}: the Key Vault SecretUri is not a URL`);
  }
  if (url.protocol !== "https:") throw new KeyVaultReferenceError(`${variable}: the Key Vault SecretUri must be https`);
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new KeyVaultReferenceError(`${variable}: the Key Vault SecretUri must be https://<vault>/secrets/<name>[/<version>]`);
  }
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  if (segments.length < 2 || segments.length > 3 || segments[0] !== "secrets") {
    throw new KeyVaultReferenceError(`${variable}: the Key Vault SecretUri must be https://<vault>/secrets/<name>[/<version>]`);
  }
  return checked(variable, { vaultUrl: url.origin, secretName: segments[1] ?? "", version: segments[2] });
}

function checked(variable: string, reference: KeyVaultReference): KeyVaultReference {
  if (!SECRET_NAME.test(reference.secretName)) {
    throw new KeyVaultReferenceError(`${variable}: "${reference.secretName}" is not a Key Vault secret name (1-127 letters, digits and dashes)`);
  }
  if (reference.version !== undefined && !VERSION.test(reference.version)) {
    throw new KeyVaultReferenceError(`${variable}: "${reference.version}" is not a Key Vault secret version`);
  }
  return reference;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
