import type { TokenCredential } from "@azure/identity";
import type { SecretClient, SecretClientOptions } from "@azure/keyvault-secrets";
import type { Logger } from "pino";
import type { Env } from "../config/env-reader.js";
import { loadSecretsConfig } from "../config/secrets.js";
import { isKeyVaultReference, parseKeyVaultReference, type KeyVaultReference } from "./keyvault-reference.js";

/**
 * Resolves the Key Vault references in a configuration environment (see keyvault-reference.ts for
 * the syntax), before the parts load their settings from it:
 *
 *   const secrets = await resolveSecretReferences(process.env, { logger });
 *   const config = loadStoreConfig(secrets.env); ...
 *   // on shutdown: secrets.stop();
 *
 * Every reference is read at start-up with @azure/keyvault-secrets; any that cannot be read stops
 * start-up with an error naming the variables (never a value), so a literal `@Microsoft.KeyVault(`
 * string (which App Service leaves in place when its own resolution fails) never reaches a part
 * as if it were the value. Then every TES_KEYVAULT_REFRESH_SECONDS the secrets are read again:
 * changed values replace the old ones in `env` (the same object), `onChange` hears which
 * variables changed, and a failed re-read keeps the last good value. Values are never logged.
 *
 * Credentials: DefaultAzureCredential (managed identity in Azure; AZURE_CLIENT_ID selects a
 * user-assigned identity), unless `credential` is given.
 */
export interface ResolveSecretsOptions {
  readonly logger?: Logger;
  /** Default: DefaultAzureCredential, created only when the environment holds a reference. */
  readonly credential?: TokenCredential;
  /** Passed to every SecretClient (tests: the stand-in's CA, challenge verification). */
  readonly clientOptions?: SecretClientOptions;
  /** Told which variables changed value after a re-read. */
  readonly onChange?: (variables: readonly string[]) => void;
  readonly now?: () => Date;
}

export interface ResolvedSecrets {
  /** The environment with every reference replaced by its secret's value; updated in place on re-reads. */
  readonly env: Record<string, string | undefined>;
  /** The variables that held references. */
  readonly variables: readonly string[];
  /** Reads every referenced secret again now; resolves with the variables whose value changed. */
  refresh(): Promise<string[]>;
  /** Stops the periodic re-reads. */
  stop(): void;
}

/** One or more references could not be resolved; the message names the variables and why. */
export class SecretResolutionError extends Error {
  override readonly name = "SecretResolutionError";
  constructor(readonly failures: ReadonlyArray<{ variable: string; reason: string }>) {
    super(`cannot resolve the Key Vault references in ${failures.map((f) => `${f.variable} (${f.reason})`).join(", ")}`);
  }
}

interface Binding {
  readonly variable: string;
  readonly reference: KeyVaultReference;
}

export async function resolveSecretReferences(source: Env, options: ResolveSecretsOptions = {}): Promise<ResolvedSecrets> {
  const env: Record<string, string | undefined> = { ...source };
  const settings = loadSecretsConfig(source);
  const bindings: Binding[] = [];
  const parseFailures: Array<{ variable: string; reason: string }> = [];
  for (const [variable, value] of Object.entries(source)) {
    if (!isKeyVaultReference(value)) continue;
    try {
      bindings.push({ variable, reference: parseKeyVaultReference(variable, value, settings.dnsSuffix) });
    } catch (error) {
      parseFailures.push({ variable, reason: (error as Error).message.replace(`${variable}: `, "") });
    }
  }
  if (parseFailures.length > 0) throw new SecretResolutionError(parseFailures);
  if (bindings.length === 0) return { env, variables: [], refresh: async () => [], stop: () => {} };

  const clients = await secretClients(bindings, settings.managedIdentityClientId, options);
  const now = options.now ?? (() => new Date());
  type Read = { binding: Binding; value: string } | { binding: Binding; reason: string };
  const readAll = async (): Promise<Read[]> =>
    Promise.all(
      bindings.map(async (binding): Promise<Read> => {
        try {
          return { binding, value: await readSecret(clients, binding, now()) };
        } catch (error) {
          return { binding, reason: reasonOf(error) };
        }
      }),
    );

  const first = await readAll();
  const failures = first.flatMap((r) => ("reason" in r ? [{ variable: r.binding.variable, reason: r.reason }] : []));
  if (failures.length > 0) throw new SecretResolutionError(failures);
  for (const r of first) if ("value" in r) env[r.binding.variable] = r.value;
  const variables = bindings.map((b) => b.variable);
  options.logger?.info({ variables }, `resolved ${variables.length} Key Vault reference(s)`);

  let running: Promise<string[]> | undefined;
  const refresh = (): Promise<string[]> => {
    running ??= (async () => {
      const changed: string[] = [];
      const failed: Array<{ variable: string; reason: string }> = [];
      for (const r of await readAll()) {
        if ("reason" in r) failed.push({ variable: r.binding.variable, reason: r.reason });
        else if (env[r.binding.variable] !== r.value) {
          env[r.binding.variable] = r.value;
          changed.push(r.binding.variable);
        }
      }
      if (failed.length > 0) options.logger?.warn({ failed }, "re-reading Key Vault secrets failed; their last values stay in use");
      if (changed.length > 0) {
        options.logger?.info({ variables: changed }, "Key Vault secrets changed");
        options.onChange?.(changed);
      }
      return changed;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  let timer: NodeJS.Timeout | undefined;
  if (settings.refreshIntervalSeconds > 0) {
    timer = setInterval(() => void refresh().catch(() => {}), settings.refreshIntervalSeconds * 1000);
    timer.unref();
  }
  return { env, variables, refresh, stop: () => clearInterval(timer) };
}

async function secretClients(bindings: readonly Binding[], managedIdentityClientId: string | undefined, options: ResolveSecretsOptions): Promise<Map<string, SecretClient>> {
  // Loaded only when a reference exists: @azure/identity is large, and standalone runs need none of it.
  const { SecretClient } = await import("@azure/keyvault-secrets");
  let credential = options.credential;
  if (credential === undefined) {
    const { DefaultAzureCredential } = await import("@azure/identity");
    credential = new DefaultAzureCredential(managedIdentityClientId === undefined ? {} : { managedIdentityClientId });
  }
  const clients = new Map<string, SecretClient>();
  for (const { reference } of bindings) {
    if (!clients.has(reference.vaultUrl)) clients.set(reference.vaultUrl, new SecretClient(reference.vaultUrl, credential, options.clientOptions));
  }
  return clients;
}

async function readSecret(clients: Map<string, SecretClient>, { reference }: Binding, now: Date): Promise<string> {
  const client = clients.get(reference.vaultUrl);
  if (client === undefined) throw new Error(`no client for ${reference.vaultUrl}`);
  const secret = await client.getSecret(reference.secretName, reference.version === undefined ? {} : { version: reference.version });
  // Key Vault serves secrets outside their activation window; we do not use them.
  const { notBefore, expiresOn } = secret.properties;
  if (notBefore !== undefined && notBefore > now) throw new ReasonError(`secret ${reference.secretName} is not active before ${notBefore.toISOString()}`);
  if (expiresOn !== undefined && expiresOn <= now) throw new ReasonError(`secret ${reference.secretName} expired at ${expiresOn.toISOString()}`);
  if (secret.value === undefined) throw new ReasonError(`secret ${reference.secretName} has no value`);
  return secret.value;
}

class ReasonError extends Error {}

/** Why a read failed, from the status and code only: never a response body, which could quote content. */
function reasonOf(error: unknown): string {
  if (error instanceof ReasonError) return error.message;
  const e = error as { statusCode?: unknown; code?: unknown; details?: { error?: { innerError?: { code?: unknown } } }; name?: unknown };
  const inner = e.details?.error?.innerError?.code;
  if (typeof e.statusCode === "number") {
    const code = typeof e.code === "string" ? ` ${e.code}` : "";
    return `Key Vault answered HTTP ${e.statusCode}${code}${typeof inner === "string" ? ` (${inner})` : ""}`;
  }
  if (e.name === "CredentialUnavailableError" || e.name === "AuthenticationError" || e.name === "AggregateAuthenticationError") {
    return "no Azure credential could get a token for Key Vault (managed identity, AZURE_CLIENT_ID, az login)";
  }
  if (typeof e.code === "string") return `Key Vault could not be reached (${e.code})`;
  return "Key Vault could not be read";
}
