import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { OptionsError } from "../transfer-options.js";
import type { FtpsProviderConfig } from "./ftps-provider.js";
import type { GcsProviderConfig } from "./gcs-provider.js";
import type { S3ProviderConfig } from "./s3-provider.js";
import type { SftpProviderConfig } from "./sftp-provider.js";

/**
 * Settings of the SFTP, FTPS, S3 and GCS providers, read once from the environment. Secrets come
 * from here (or the URL's user info), never from the manifest's text, and are never printed.
 * A bad setting throws OptionsError naming it.
 */
type Env = Readonly<Record<string, string | undefined>>;

const MiB = 1024 * 1024;
/** S3 refuses parts smaller than 5 MiB (except the last). */
export const MIN_S3_PART_SIZE = 5 * MiB;

export function loadSftpConfig(env: Env): SftpProviderConfig {
  const keyFile = value(env, "FILETRANSFER_SFTP_PRIVATE_KEY_FILE");
  const knownHostsFile = value(env, "FILETRANSFER_SFTP_KNOWN_HOSTS_FILE") ?? defaultKnownHosts(env);
  const checking = oneOf(env, "FILETRANSFER_SFTP_HOST_KEY_CHECKING", ["strict", "off"] as const, "strict");
  const config: SftpProviderConfig = {
    hostKeyChecking: checking,
    connectTimeoutInMs: integer(env, "FILETRANSFER_SFTP_CONNECT_TIMEOUT_MS", 20_000, 1),
  };
  const username = value(env, "FILETRANSFER_SFTP_USERNAME");
  if (username) config.username = username;
  const password = value(env, "FILETRANSFER_SFTP_PASSWORD");
  if (password) config.password = password;
  const passphrase = value(env, "FILETRANSFER_SFTP_PRIVATE_KEY_PASSPHRASE");
  if (passphrase) config.passphrase = passphrase;
  if (keyFile) config.privateKey = readSetting("FILETRANSFER_SFTP_PRIVATE_KEY_FILE", keyFile);
  if (knownHostsFile && existsSync(knownHostsFile)) {
    config.knownHosts = readSetting("FILETRANSFER_SFTP_KNOWN_HOSTS_FILE", knownHostsFile).toString("utf8");
    config.knownHostsSource = knownHostsFile;
  } else if (value(env, "FILETRANSFER_SFTP_KNOWN_HOSTS_FILE")) {
    throw new OptionsError(`FILETRANSFER_SFTP_KNOWN_HOSTS_FILE: ${knownHostsFile} does not exist`);
  }
  return config;
}

export function loadFtpsConfig(env: Env): FtpsProviderConfig {
  const config: FtpsProviderConfig = {
    tlsMode: oneOf(env, "FILETRANSFER_FTPS_TLS", ["explicit", "implicit"] as const, "explicit"),
    insecureTls: boolean(env, "FILETRANSFER_FTPS_INSECURE_TLS", false),
    timeoutInMs: integer(env, "FILETRANSFER_FTPS_TIMEOUT_MS", 30_000, 1),
  };
  const username = value(env, "FILETRANSFER_FTPS_USERNAME");
  if (username) config.username = username;
  const password = env.FILETRANSFER_FTPS_PASSWORD;
  if (password !== undefined) config.password = password;
  const caFile = value(env, "FILETRANSFER_FTPS_CA_FILE");
  if (caFile) config.ca = readSetting("FILETRANSFER_FTPS_CA_FILE", caFile);
  return config;
}

/** The SDK's own credential sources; when none is set, requests go unsigned (public buckets). */
const AWS_CREDENTIAL_SETTINGS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_PROFILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

export function loadS3Config(env: Env): S3ProviderConfig {
  const endpoint = value(env, "S3_ENDPOINT_URL") ?? value(env, "AWS_ENDPOINT_URL_S3") ?? value(env, "AWS_ENDPOINT_URL");
  if (endpoint) assertHttpUrl("S3_ENDPOINT_URL", endpoint);
  const hasCredentials =
    AWS_CREDENTIAL_SETTINGS.some((name) => value(env, name) !== undefined) || existsSync(join(home(env), ".aws", "credentials"));
  const config: S3ProviderConfig = {
    region: value(env, "AWS_REGION") ?? value(env, "AWS_DEFAULT_REGION") ?? "us-east-1",
    // Path style is what S3-compatible servers expect; AWS itself prefers virtual-hosted buckets.
    forcePathStyle: boolean(env, "FILETRANSFER_S3_FORCE_PATH_STYLE", endpoint !== undefined),
    // Never probing the instance metadata service is deliberate: on Azure nodes it is not AWS's.
    credentials: oneOf(env, "FILETRANSFER_S3_CREDENTIALS", ["default", "anonymous"] as const, hasCredentials ? "default" : "anonymous"),
    // S3 allows 10,000 parts: 64 MiB parts reach 640 GiB; parts are streamed, so size costs no memory.
    partSizeInBytes: integer(env, "FILETRANSFER_S3_PART_SIZE_BYTES", 64 * MiB, MIN_S3_PART_SIZE),
  };
  if (endpoint) config.endpoint = endpoint;
  const accessKeyId = value(env, "AWS_ACCESS_KEY_ID");
  const secretAccessKey = value(env, "AWS_SECRET_ACCESS_KEY");
  if (accessKeyId && !secretAccessKey) throw new OptionsError("AWS_SECRET_ACCESS_KEY: must be set with AWS_ACCESS_KEY_ID");
  if (accessKeyId && secretAccessKey) {
    const sessionToken = value(env, "AWS_SESSION_TOKEN");
    config.keys = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }
  return config;
}

export function loadGcsConfig(env: Env): GcsProviderConfig {
  const keyFilename = value(env, "FILETRANSFER_GCS_KEY_FILE") ?? value(env, "GOOGLE_APPLICATION_CREDENTIALS");
  if (keyFilename && !existsSync(keyFilename)) throw new OptionsError(`FILETRANSFER_GCS_KEY_FILE: ${keyFilename} does not exist`);
  const endpoint = value(env, "FILETRANSFER_GCS_ENDPOINT") ?? emulatorEndpoint(value(env, "STORAGE_EMULATOR_HOST"));
  if (endpoint) assertHttpUrl("FILETRANSFER_GCS_ENDPOINT", endpoint);
  const config: GcsProviderConfig = {
    // Without a key file, Application Default Credentials would probe the GCE metadata server,
    // which on other clouds is somebody else's: anonymous unless asked for "default".
    credentials: oneOf(env, "FILETRANSFER_GCS_CREDENTIALS", ["default", "anonymous"] as const, keyFilename ? "default" : "anonymous"),
    resumableThresholdInBytes: integer(env, "FILETRANSFER_GCS_RESUMABLE_THRESHOLD_BYTES", 8 * MiB, 0),
  };
  if (keyFilename) config.keyFilename = keyFilename;
  if (endpoint) config.apiEndpoint = endpoint;
  const projectId = value(env, "GOOGLE_CLOUD_PROJECT");
  if (projectId) config.projectId = projectId;
  return config;
}

/** STORAGE_EMULATOR_HOST is "host:port" or a URL, by the client libraries' convention. */
function emulatorEndpoint(host: string | undefined): string | undefined {
  if (!host) return undefined;
  return /^https?:\/\//.test(host) ? host : `http://${host}`;
}

function defaultKnownHosts(env: Env): string {
  return join(home(env), ".ssh", "known_hosts");
}

function home(env: Env): string {
  return value(env, "HOME") ?? homedir();
}

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === "" ? undefined : raw;
}

function integer(env: Env, name: string, fallback: number, min: number): number {
  const raw = value(env, name);
  const parsed = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(parsed) || parsed < min) throw new OptionsError(`${name}: must be an integer >= ${min}, got "${raw}"`);
  return parsed;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new OptionsError(`${name}: must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new OptionsError(`${name}: must be one of ${allowed.join(", ")}, got "${raw}"`);
}

function assertHttpUrl(name: string, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OptionsError(`${name}: "${raw}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new OptionsError(`${name}: must be an http or https URL, got "${url.protocol}"`);
}

function readSetting(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new OptionsError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}
