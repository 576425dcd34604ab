import type { TokenCredential } from "@azure/identity";
import type { ProviderRegistry } from "./provider-registry.js";
import type { StorageProvider } from "./storage-provider.js";
import type { TransferProgress } from "./transfer-progress.js";

/** How one run of runTransfers behaves. Every limit has a default here and a CLI/env setting. */
export interface TransferOptions {
  /** Files moved at the same time (default 4). */
  parallel?: number;
  /** Further attempts per file after a transient failure (default 4). */
  retries?: number;
  /** First retry delay, doubled each retry (default 500 ms), capped at retryMaxDelayInMs (30 s). */
  retryBaseDelayInMs?: number;
  retryMaxDelayInMs?: number;
  /** Host directories file:// URLs may name (default: none, so file:// is refused). */
  allowedDirs?: string[];
  /** Let URLs reach link-local and cloud metadata addresses (default false). */
  allowLinkLocal?: boolean;
  /** Compute and send the MD5 of each uploaded file (one extra read of it; default true). */
  uploadChecksums?: boolean;
  /** Redirects the HTTP provider follows per request (default 5). */
  httpMaxRedirects?: number;
  /** A transfer (or HTTP connection) that moves no byte for this long counts as dropped and is retried (default 60 s). */
  idleTimeoutInMs?: number;
  azureBlob?: AzureBlobOptions;
  /** Environment for credentials and endpoints (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Providers added on top of the built-in ones (they take precedence). */
  providers?: StorageProvider[];
  /** Replaces the built-in registry altogether. */
  registry?: ProviderRegistry;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

export interface AzureBlobOptions {
  /**
   * Endpoint of an account named in an az://account/container/path URL; "{account}" is replaced.
   * Default "https://{account}.blob.core.windows.net"; Azurite: "http://127.0.0.1:10000/{account}".
   */
  endpointTemplate?: string;
  /** Hosts (host:port) serving path-style blob URLs (http://host/account/container/blob), e.g. Azurite. */
  pathStyleHosts?: string[];
  /** https blob URLs without a SAS use the az:// credential instead of anonymous access (default false). */
  identityForUrlsWithoutSas?: boolean;
  /** Credential for az:// URLs (default: DefaultAzureCredential, managed identity included). */
  credential?: TokenCredential;
  /** Shared key for az:// URLs instead of Entra ID (AZURE_STORAGE_KEY), as for Azurite. */
  accountKey?: string;
  /** Block size and blocks in flight per upload: memory per upload is about their product. */
  uploadBlockSizeInBytes?: number;
  uploadConcurrency?: number;
}

export interface ResolvedTransferOptions {
  parallel: number;
  retries: number;
  retryBaseDelayInMs: number;
  retryMaxDelayInMs: number;
  allowedDirs: string[];
  allowLinkLocal: boolean;
  uploadChecksums: boolean;
  httpMaxRedirects: number;
  idleTimeoutInMs: number;
  azureBlob: AzureBlobOptions;
  env: Readonly<Record<string, string | undefined>>;
}

export class OptionsError extends Error {
  override readonly name = "OptionsError";
}

/**
 * Options merged over settings from the environment (FILETRANSFER_*), then over defaults.
 * A bad setting throws OptionsError naming it.
 */
export function resolveTransferOptions(options: TransferOptions): ResolvedTransferOptions {
  const env = options.env ?? process.env;
  const num = (value: number | undefined, name: string, fallback: number, min: number): number => {
    const raw = value ?? (env[name] !== undefined && env[name] !== "" ? Number(env[name]) : fallback);
    if (!Number.isInteger(raw) || raw < min) throw new OptionsError(`${name}: must be an integer >= ${min}, got "${String(value ?? env[name])}"`);
    return raw;
  };
  const bool = (value: boolean | undefined, name: string, fallback: boolean): boolean => {
    if (value !== undefined) return value;
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new OptionsError(`${name}: must be true or false, got "${raw}"`);
  };
  const list = (value: string[] | undefined, name: string, separator: string): string[] =>
    value ?? (env[name] ?? "").split(separator).map((s) => s.trim()).filter(Boolean);

  const allowedDirs = list(options.allowedDirs, "FILETRANSFER_ALLOWED_DIRS", ":");
  for (const dir of allowedDirs) if (!dir.startsWith("/")) throw new OptionsError(`FILETRANSFER_ALLOWED_DIRS: "${dir}" is not an absolute path`);
  const azure = options.azureBlob ?? {};
  const endpointTemplate = azure.endpointTemplate ?? env.FILETRANSFER_AZURE_BLOB_ENDPOINT ?? "https://{account}.blob.core.windows.net";
  if (!endpointTemplate.includes("{account}")) throw new OptionsError(`FILETRANSFER_AZURE_BLOB_ENDPOINT: must contain "{account}", got "${endpointTemplate}"`);
  const azureBlob: AzureBlobOptions = {
    ...azure,
    endpointTemplate,
    pathStyleHosts: list(azure.pathStyleHosts, "FILETRANSFER_AZURE_BLOB_PATH_STYLE_HOSTS", ","),
    identityForUrlsWithoutSas: bool(azure.identityForUrlsWithoutSas, "FILETRANSFER_AZURE_IDENTITY_WITHOUT_SAS", false),
    uploadBlockSizeInBytes: num(azure.uploadBlockSizeInBytes, "FILETRANSFER_AZURE_BLOCK_SIZE", 4 * 1024 * 1024, 64 * 1024),
    uploadConcurrency: num(azure.uploadConcurrency, "FILETRANSFER_AZURE_UPLOAD_CONCURRENCY", 4, 1),
  };
  const accountKey = azure.accountKey ?? env.AZURE_STORAGE_KEY;
  if (accountKey) azureBlob.accountKey = accountKey;
  return {
    parallel: num(options.parallel, "FILETRANSFER_PARALLEL", 4, 1),
    retries: num(options.retries, "FILETRANSFER_RETRIES", 4, 0),
    retryBaseDelayInMs: num(options.retryBaseDelayInMs, "FILETRANSFER_RETRY_DELAY_MS", 500, 0),
    retryMaxDelayInMs: num(options.retryMaxDelayInMs, "FILETRANSFER_RETRY_MAX_DELAY_MS", 30_000, 0),
    allowedDirs,
    allowLinkLocal: bool(options.allowLinkLocal, "FILETRANSFER_ALLOW_LINK_LOCAL", false),
    uploadChecksums: bool(options.uploadChecksums, "FILETRANSFER_UPLOAD_CHECKSUMS", true),
    httpMaxRedirects: num(options.httpMaxRedirects, "FILETRANSFER_HTTP_MAX_REDIRECTS", 5, 0),
    idleTimeoutInMs: num(options.idleTimeoutInMs, "FILETRANSFER_IDLE_TIMEOUT_MS", 60_000, 1),
    azureBlob,
    env,
  };
}
