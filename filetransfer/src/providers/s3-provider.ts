import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import type { AddressPolicy } from "../address-policy.js";
import { ProviderError } from "../provider-error.js";
import { MIN_S3_PART_SIZE } from "./remote-provider-config.js";
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
 * Amazon S3 and S3-compatible stores through the AWS SDK v3. URLs are `s3://bucket/key`; a
 * directory is the key prefix up to a "/".
 */
export interface S3ProviderConfig {
  region: string;
  /** An S3-compatible endpoint (MinIO, Ceph, a local server) instead of AWS. */
  endpoint?: string;
  /** Address buckets as https://endpoint/bucket/key instead of https://bucket.endpoint/key. */
  forcePathStyle: boolean;
  /**
   * "default": the SDK's credential chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, web identity).
   * "anonymous": unsigned requests, for public buckets.
   */
  credentials: "default" | "anonymous";
  /**
   * Keys from the run's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
   * used as given; without them "default" asks the SDK's chain (profiles, web identity, containers).
   */
  keys?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Size of each part of a multipart upload (objects up to this size go in one PUT). */
  partSizeInBytes: number;
}

/**
 * Builds the client without the SDK's once-per-process stderr warning that its releases after
 * January 2027 need Node 22. We run Node 20 with the SDK pinned (package-lock), so the warning tells
 * a task's logs nothing they can act on. The SDK's documented switch for exactly that warning is
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true (aws/aws-sdk-js-v3#7983; there is no client
 * option), read while a client is built. It is set only for that moment and then restored, so it
 * reaches neither other code nor child processes; other warnings are untouched.
 */
function withoutNodeVersionSupportWarning<T>(build: () => T): T {
  const name = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";
  const before = process.env[name];
  process.env[name] = "true";
  try {
    return build();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

export class S3Provider implements StorageProvider {
  readonly schemes = ["s3"] as const;
  readonly #config: S3ProviderConfig;
  readonly #client: S3Client;

  /** Every connection goes to an address the policy allows (checked when the socket resolves its host). */
  constructor(config: S3ProviderConfig, addressPolicy?: AddressPolicy) {
    if (config.partSizeInBytes < MIN_S3_PART_SIZE) {
      throw new Error(`S3 part size ${config.partSizeInBytes} is below S3's minimum of ${MIN_S3_PART_SIZE} bytes`);
    }
    this.#config = config;
    const clientConfig: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      followRegionRedirects: true,
      // The engine retries with backoff and resume; SDK retries underneath would multiply the waits.
      maxAttempts: 1,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(addressPolicy
        ? {
            requestHandler: {
              httpAgent: new http.Agent({ keepAlive: true, lookup: addressPolicy.lookup }),
              httpsAgent: new https.Agent({ keepAlive: true, lookup: addressPolicy.lookup }),
            },
          }
        : {}),
      // Most S3-compatible servers do not understand the SDK's default streaming CRC trailers; AWS
      // itself gets them, and MD5 where the caller has one.
      ...(config.endpoint ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" } : {}),
      ...(config.credentials === "anonymous"
        ? { signer: { sign: async (request) => request }, credentials: { accessKeyId: "", secretAccessKey: "" } }
        : config.keys
          ? { credentials: config.keys }
          : {}),
    };
    this.#client = withoutNodeVersionSupportWarning(() => new S3Client(clientConfig));
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    const { bucket, key } = parseS3Url(url);
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), abortOptions(options));
      return objectInfo(head.ContentLength, head.ETag);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toProviderError(error, url, "stat");
    }
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    const { bucket, key } = parseS3Url(url);
    const offset = options.offset ?? 0;
    try {
      const response = await this.#client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }),
        abortOptions(options),
      );
      const body = response.Body as Readable | undefined;
      if (!body) throw new ProviderError("transient", `read ${redactUrl(url)}: the response has no body`);
      const resumed = offset > 0 && response.ContentRange !== undefined;
      const total = resumed ? totalFromContentRange(response.ContentRange) : response.ContentLength;
      const info = objectInfo(total, response.ETag);
      return { body: mapStreamErrors(body, url), ...info, resumed };
    } catch (error) {
      throw toProviderError(error, url, "read");
    }
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const { bucket, key } = parseS3Url(directoryUrl, { allowEmptyKey: true });
    const prefix = key === "" || key.endsWith("/") ? key : `${key}/`;
    let continuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(continuationToken ? { ContinuationToken: continuationToken } : {}) }),
          abortOptions(options),
        );
      } catch (error) {
        throw toProviderError(error, directoryUrl, "list");
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.endsWith("/")) continue; // "folder" markers hold no data
        const relativePath = object.Key.slice(prefix.length);
        yield { url: new URL(`s3://${bucket}/${encodeKey(object.Key)}`), relativePath, ...objectInfo(object.Size, object.ETag) };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const { bucket, key } = parseS3Url(url);
    try {
      if (options.size <= this.#config.partSizeInBytes) {
        // One PUT streams the body as it comes; S3 checks Content-MD5 when we know it.
        await this.#client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentLength: options.size,
            ...(options.md5 ? { ContentMD5: options.md5.toString("base64") } : {}),
          }),
          abortOptions(options),
        );
        return;
      }
      await this.#multipartUpload(bucket, key, body, options);
    } catch (error) {
      throw toProviderError(error, url, "write");
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  /**
   * A multipart upload whose parts are slices of the body streamed straight into each UploadPart,
   * one after the other: nothing is buffered beyond the streams' own chunks, so memory stays flat
   * whatever the part size. (lib-storage's Upload copies every part into memory first.) A failed
   * upload is aborted, so no parts are left to bill.
   */
  async #multipartUpload(bucket: string, key: string, body: Readable, options: WriteOptions): Promise<void> {
    const call = abortOptions(options);
    const created = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), call);
    const uploadId = created.UploadId;
    if (!uploadId) throw new ProviderError("transient", "the store started no multipart upload");
    try {
      const slices = new StreamSlicer(body);
      const parts: CompletedPart[] = [];
      for (let offset = 0, partNumber = 1; offset < options.size; partNumber++) {
        const length = Math.min(this.#config.partSizeInBytes, options.size - offset);
        const part = await this.#client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: slices.next(length), ContentLength: length }),
          call,
        );
        parts.push({ ETag: part.ETag, PartNumber: partNumber });
        offset += length;
      }
      await this.#client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        call,
      );
    } catch (error) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw error;
    }
  }
}

/** Cuts one stream into consecutive streams of given lengths, each read only when it is consumed. */
class StreamSlicer {
  readonly #source: AsyncIterator<Buffer>;
  #leftover: Buffer | undefined;

  constructor(body: Readable) {
    this.#source = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  next(length: number): Readable {
    const take = async function* (this: StreamSlicer): AsyncGenerator<Buffer> {
      let remaining = length;
      while (remaining > 0) {
        let chunk = this.#leftover;
        this.#leftover = undefined;
        if (!chunk) {
          const step = await this.#source.next();
          if (step.done) throw new Error(`the body ended ${remaining} bytes before its announced size`);
          chunk = Buffer.isBuffer(step.value) ? step.value : Buffer.from(step.value);
        }
        if (chunk.length > remaining) {
          this.#leftover = chunk.subarray(remaining);
          chunk = chunk.subarray(0, remaining);
        }
        remaining -= chunk.length;
        yield chunk;
      }
    };
    return Readable.from(take.call(this), { objectMode: false });
  }
}

export function parseS3Url(url: URL, options: { allowEmptyKey?: boolean } = {}): { bucket: string; key: string } {
  const bucket = url.hostname;
  const key = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!bucket) throw new ProviderError("invalid", `${redactUrl(url)}: an S3 URL names a bucket (s3://bucket/key)`);
  if (!key && !options.allowEmptyKey) throw new ProviderError("invalid", `${redactUrl(url)}: an S3 URL names an object key (s3://bucket/key)`);
  return { bucket, key };
}

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

function abortOptions(options: ProviderCallOptions): { abortSignal?: AbortSignal } {
  return options.signal ? { abortSignal: options.signal } : {};
}

/** The ETag of a single-part, unencrypted-or-SSE-S3 upload is the MD5 of the content; multipart ETags end in "-N". */
function objectInfo(size: number | undefined, etag: string | undefined): ObjectInfo {
  const info: ObjectInfo = {};
  if (size !== undefined) info.size = size;
  const hex = etag?.replace(/"/g, "");
  if (hex && /^[0-9a-f]{32}$/i.test(hex)) info.md5 = Buffer.from(hex, "hex");
  return info;
}

function totalFromContentRange(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)$/.exec(contentRange ?? "");
  return match?.[1] ? Number(match[1]) : undefined;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function mapStreamErrors(body: Readable, url: URL): Readable {
  const original = body.destroy.bind(body);
  body.destroy = (error?: Error) => original(error ? toProviderError(error, url, "read") : error);
  return body;
}

const ACCESS_DENIED_CODES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "AllAccessDisabled",
  "CredentialsProviderError",
]);

export function toProviderError(error: unknown, url: URL, operation: string): Error {
  if (error instanceof ProviderError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const where = `${operation} ${redactUrl(url)}`;
  const name = (error as { name?: unknown }).name;
  const status = statusOf(error);
  if (name === "NoSuchKey" || name === "NotFound" || name === "NoSuchBucket" || (status === 404 && operation !== "list")) {
    return new ProviderError("not-found", `${where}: ${name === "NoSuchBucket" ? "no such bucket" : "no such object"}`);
  }
  if (name === "BadDigest" || name === "InvalidDigest") {
    return new ProviderError("integrity", `${where}: the store received bytes that do not match their MD5 (${name})`);
  }
  if (typeof name === "string" && (ACCESS_DENIED_CODES.has(name) || status === 403 || status === 401)) {
    return new ProviderError("access-denied", `${where}: the store refused the credentials (${name})`);
  }
  if (error instanceof S3ServiceException) {
    const transient = status === undefined || status >= 500 || status === 408 || status === 429;
    const detail = `${error.name}${status ? ` (HTTP ${status})` : ""}: ${redactText(error.message)}`;
    return new ProviderError(transient ? "transient" : "invalid", `${where}: ${detail}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError("transient", `${where}: ${redactText(message)}`);
}
