import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Storage, type File, type StorageOptions } from "@google-cloud/storage";
import { GoogleAuth } from "google-auth-library";
import type { AddressPolicy } from "../address-policy.js";
import { abortError, ProviderError } from "../provider-error.js";
import { redactText, redactUrl } from "../redact.js";
import type {
  ListedObject,
  ObjectInfo,
  ProviderCallOptions,
  ReadOptions,
  ReadResult,
  StorageProvider,
  WriteOptions,
} from "../storage-provider.js";

/**
 * Google Cloud Storage through @google-cloud/storage. URLs are `gs://bucket/object`; a directory is
 * the object-name prefix up to a "/".
 */
export interface GcsProviderConfig {
  /**
   * "default": a service account key file when keyFilename is set, else Application Default
   * Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the metadata server).
   * "anonymous": unauthenticated requests, for public buckets and emulators.
   */
  credentials: "default" | "anonymous";
  keyFilename?: string;
  projectId?: string;
  /** Another endpoint than storage.googleapis.com (an emulator, a private endpoint): "http://127.0.0.1:4443". */
  apiEndpoint?: string;
  /** Uploads larger than this use a resumable session; smaller ones a single multipart request. */
  resumableThresholdInBytes: number;
}

const PUBLIC_ENDPOINT = "https://storage.googleapis.com";
const STORAGE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";

export class GcsProvider implements StorageProvider {
  readonly schemes = ["gs"] as const;
  readonly #config: GcsProviderConfig;
  readonly #storage: Storage;

  /**
   * The host is the configured endpoint, never one a task's URL chooses; the policy still refuses
   * an endpoint given as a link-local or metadata address.
   */
  constructor(config: GcsProviderConfig, addressPolicy?: AddressPolicy) {
    this.#config = config;
    if (config.apiEndpoint && addressPolicy) addressPolicy.assertHostAllowed(new URL(config.apiEndpoint).hostname);
    const options: StorageOptions = {
      // The engine retries with backoff and resume; the library's retries underneath would multiply the waits.
      retryOptions: { autoRetry: false },
    };
    if (config.projectId) options.projectId = config.projectId;
    if (config.keyFilename && config.credentials === "default") {
      // A service account signs a short-lived JWT for its calls (Google's "self-signed JWT" flow,
      // what Google's own client libraries use) instead of first trading it for a token at
      // oauth2.googleapis.com: one round trip fewer, and it works against any endpoint.
      const auth = new GoogleAuth({ keyFilename: config.keyFilename, scopes: [STORAGE_SCOPE] });
      auth.useJWTAccessWithScope = true;
      options.authClient = auth;
    }
    if (config.credentials === "anonymous") {
      // The library sends no credentials only to an endpoint other than its default; ":443" names
      // the same public endpoint in a form it treats as custom.
      options.apiEndpoint = config.apiEndpoint ?? `${PUBLIC_ENDPOINT}:443`;
      options.useAuthWithCustomEndpoint = false;
    } else if (config.apiEndpoint) {
      options.apiEndpoint = config.apiEndpoint;
      options.useAuthWithCustomEndpoint = true;
    }
    this.#storage = new Storage(options);
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    options.signal?.throwIfAborted();
    try {
      const [metadata] = await this.#file(url).getMetadata();
      return objectInfo(metadata.size, metadata.md5Hash);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toProviderError(error, url, "stat");
    }
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    options.signal?.throwIfAborted();
    const file = this.#file(url);
    const offset = options.offset ?? 0;
    let info: ObjectInfo;
    try {
      const [metadata] = await file.getMetadata();
      info = objectInfo(metadata.size, metadata.md5Hash);
    } catch (error) {
      throw toProviderError(error, url, "read");
    }
    // A whole-object read is checked against the stored MD5 by the library; a range cannot be.
    // When a server cuts the body short the library's stream stalls rather than fails: the engine's
    // idle watchdog notices and retries from the offset reached.
    const body = file.createReadStream(offset > 0 ? { start: offset, validation: false } : { validation: "md5" });
    const onAbort = () => body.destroy(abortError(url, "read"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    body.once("close", () => options.signal?.removeEventListener("abort", onAbort));
    return { body: mapStreamErrors(body, url), ...info, resumed: offset > 0 };
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const { bucket, name } = parseGsUrl(directoryUrl, { allowEmptyName: true });
    const prefix = name === "" || name.endsWith("/") ? name : `${name}/`;
    let pageToken: string | undefined;
    do {
      options.signal?.throwIfAborted();
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = await this.#storage.bucket(bucket).getFiles({ prefix, autoPaginate: false, ...(pageToken ? { pageToken } : {}) });
      } catch (error) {
        throw toProviderError(error, directoryUrl, "list");
      }
      for (const file of files) {
        if (file.name.endsWith("/")) continue; // "folder" placeholders hold no data
        const relativePath = file.name.slice(prefix.length);
        yield {
          url: new URL(`gs://${bucket}/${encodeName(file.name)}`),
          relativePath,
          ...objectInfo(file.metadata.size, file.metadata.md5Hash),
        };
      }
      pageToken = next?.pageToken;
    } while (pageToken);
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const file = this.#file(url);
    const resumable = options.size > this.#config.resumableThresholdInBytes;
    const metadata = options.md5 ? { md5Hash: options.md5.toString("base64") } : {};
    try {
      // The session is opened first, on its own: the library's stream path drops the credentials
      // for endpoints outside googleapis.com, while opening a session keeps them. The session URI
      // then authorizes the upload by itself, as GCS defines it.
      const uri = resumable ? (await file.createResumableUpload({ metadata }))[0] : undefined;
      const sink = file.createWriteStream({
        resumable,
        ...(uri ? { uri } : {}),
        // The library hashes what it sends and compares with what the store computed; a mismatch fails the write.
        validation: "md5",
        metadata,
      });
      await pipeline(body, sink, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      throw toProviderError(error, url, "write");
    }
  }

  #file(url: URL): File {
    const { bucket, name } = parseGsUrl(url);
    return this.#storage.bucket(bucket).file(name);
  }
}

export function parseGsUrl(url: URL, options: { allowEmptyName?: boolean } = {}): { bucket: string; name: string } {
  const bucket = url.hostname;
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!bucket) throw new ProviderError("invalid", `${redactUrl(url)}: a GCS URL names a bucket (gs://bucket/object)`);
  if (!name && !options.allowEmptyName) throw new ProviderError("invalid", `${redactUrl(url)}: a GCS URL names an object (gs://bucket/object)`);
  return { bucket, name };
}

function encodeName(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

function objectInfo(size: string | number | undefined, md5Hash: string | undefined): ObjectInfo {
  const info: ObjectInfo = {};
  if (size !== undefined && size !== "") info.size = Number(size);
  if (md5Hash) info.md5 = Buffer.from(md5Hash, "base64");
  return info;
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

function mapStreamErrors(body: Readable, url: URL): Readable {
  const original = body.destroy.bind(body);
  body.destroy = (error?: Error) => original(error ? toProviderError(error, url, "read") : error);
  return body;
}

export function toProviderError(error: unknown, url: URL, operation: string): Error {
  if (error instanceof ProviderError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const where = `${operation} ${redactUrl(url)}`;
  const status = statusOf(error);
  const err = error as { message?: unknown; code?: unknown };
  const message = redactText(typeof err.message === "string" ? err.message : String(error));
  if (status === 404) return new ProviderError("not-found", `${where}: no such object or bucket`);
  if (status === 401 || status === 403) return new ProviderError("access-denied", `${where}: the store refused the credentials (${message})`);
  // google-auth-library failing to get a token (a bad key file, a revoked service account).
  if (/invalid_grant|invalid_client|unauthorized_client|Could not load the default credentials/i.test(message)) {
    return new ProviderError("access-denied", `${where}: could not authenticate (${message})`);
  }
  if (err.code === "CONTENT_DOWNLOAD_MISMATCH" || err.code === "FILE_NO_UPLOAD" || /checksum|mismatch/i.test(message)) {
    return new ProviderError("integrity", `${where}: ${message}`);
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new ProviderError("invalid", `${where}: ${message}`);
  }
  return new ProviderError("transient", `${where}: ${message}`);
}
