import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import {
  AnonymousCredential,
  BlobServiceClient,
  BlockBlobClient,
  ContainerClient,
  StorageSharedKeyCredential,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
import { isBlockedAddressError, type AddressPolicy } from "../address-policy.js";
import { isAbortError, ProviderError, type ProviderErrorKind } from "../provider-error.js";
import { redactUrl } from "../redact.js";
import type { ListedObject, ObjectInfo, ProviderCallOptions, ReadOptions, ReadResult, StorageProvider, WriteOptions } from "../storage-provider.js";
import type { AzureBlobOptions } from "../transfer-options.js";
import { childUrl } from "../url-join.js";
import { isBlobHttpUrl, parseBlobUrl, type BlobLocation, type BlobUrlSettings } from "./azure-blob-url.js";

/**
 * Azure Blob Storage through @azure/storage-blob: https URLs with a SAS (or public), and
 * az://account/container/path URLs authenticated with Entra ID (DefaultAzureCredential, so a
 * managed identity on Batch nodes) or a shared key. The SDK's own retries are off: the engine
 * retries and resumes, once, for every provider.
 */
export class AzureBlobProvider implements StorageProvider {
  readonly schemes = ["az", "https", "http"] as const;
  readonly #settings: BlobUrlSettings;
  readonly #options: AzureBlobOptions;
  readonly #pipelineOptions: { http: StoragePipelineOptions; https: StoragePipelineOptions };
  readonly #agents: { http: http.Agent; https: https.Agent };
  readonly #services = new Map<string, BlobServiceClient>();
  #credential: TokenCredential | StorageSharedKeyCredential | undefined;

  constructor(policy: AddressPolicy, options: AzureBlobOptions) {
    this.#options = options;
    this.#settings = {
      endpointTemplate: options.endpointTemplate ?? "https://{account}.blob.core.windows.net",
      pathStyleHosts: options.pathStyleHosts ?? [],
      identityForUrlsWithoutSas: options.identityForUrlsWithoutSas === true,
    };
    // The agents' lookup hook applies the address policy to every connection the SDK opens.
    this.#agents = { http: new http.Agent({ keepAlive: true, lookup: policy.lookup }), https: new https.Agent({ keepAlive: true, lookup: policy.lookup }) };
    const base: StoragePipelineOptions = { retryOptions: { maxTries: 1 }, userAgentOptions: { userAgentPrefix: "tes-azure-filetransfer" } };
    // `agent` is core-rest-pipeline's PipelineOptions.agent, which storage-blob passes through to it.
    this.#pipelineOptions = {
      http: { ...base, agent: this.#agents.http } as StoragePipelineOptions,
      https: { ...base, agent: this.#agents.https } as StoragePipelineOptions,
    };
  }

  handles(url: URL): boolean {
    return url.protocol === "az:" || isBlobHttpUrl(url, this.#settings);
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    const blob = this.#blobClient(url);
    try {
      const properties = await blob.getProperties({ ...signalOf(options) });
      return info(properties.contentLength, properties.contentMD5);
    } catch (error) {
      const failure = blobError("stat", url, error);
      if (failure instanceof ProviderError && failure.kind === "not-found") return undefined;
      throw failure;
    }
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    const blob = this.#blobClient(url);
    const offset = options.offset ?? 0;
    try {
      const response = await blob.download(offset, undefined, { maxRetryRequests: 0, ...signalOf(options) });
      const total = /\/(\d+)$/.exec(response.contentRange ?? "")?.[1];
      const size = total !== undefined ? Number(total) : response.contentLength;
      const md5 = response.blobContentMD5 ?? (offset === 0 ? response.contentMD5 : undefined);
      const body = response.readableStreamBody;
      if (!body) throw new ProviderError("transient", `read ${redactUrl(url)}: the response has no body`);
      return { ...info(size, md5), body: body as Readable, resumed: true };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 416 && offset > 0) {
        const properties = await this.stat(url, options);
        if (properties?.size === offset) return { ...properties, body: Readable.from([]), resumed: true };
      }
      throw blobError("read", url, error);
    }
  }

  async *list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject> {
    const location = parseBlobUrl(directoryUrl, this.#settings);
    const container = this.#containerClient(location);
    const prefix = location.blobPath === "" || location.blobPath.endsWith("/") ? location.blobPath : `${location.blobPath}/`;
    try {
      for await (const item of container.listBlobsFlat({ ...(prefix ? { prefix } : {}), ...signalOf(options) })) {
        const relativePath = item.name.slice(prefix.length);
        if (relativePath === "" || relativePath.endsWith("/")) continue; // directory markers
        yield { url: childUrl(directoryUrl, relativePath), relativePath, ...info(item.properties.contentLength, item.properties.contentMD5) };
      }
    } catch (error) {
      throw blobError("list", directoryUrl, error);
    }
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    const blob = this.#blobClient(url);
    try {
      await blob.uploadStream(body, this.#options.uploadBlockSizeInBytes ?? 4 * 1024 * 1024, this.#options.uploadConcurrency ?? 4, {
        ...signalOf(options),
        ...(options.md5 ? { blobHTTPHeaders: { blobContentMD5: options.md5 } } : {}),
      });
    } catch (error) {
      throw blobError("write", url, error);
    }
  }

  async close(): Promise<void> {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #blobClient(url: URL): BlockBlobClient {
    const location = parseBlobUrl(url, this.#settings);
    if (location.blobPath === "") throw new ProviderError("invalid", `${redactUrl(url)}: names a container, not a blob`);
    if (location.auth === "identity") return this.#service(location).getContainerClient(location.container).getBlockBlobClient(location.blobPath);
    return new BlockBlobClient(`${location.endpoint}/${location.container}/${encodeBlobName(location.blobPath)}${location.sas}`, new AnonymousCredential(), this.#pipelineFor(location.endpoint));
  }

  #containerClient(location: BlobLocation): ContainerClient {
    if (location.auth === "identity") return this.#service(location).getContainerClient(location.container);
    return new ContainerClient(`${location.endpoint}/${location.container}${location.sas}`, new AnonymousCredential(), this.#pipelineFor(location.endpoint));
  }

  #service(location: BlobLocation): BlobServiceClient {
    let service = this.#services.get(location.endpoint);
    if (!service) {
      service = new BlobServiceClient(location.endpoint, this.#credentialFor(location.account), this.#pipelineFor(location.endpoint));
      this.#services.set(location.endpoint, service);
    }
    return service;
  }

  #credentialFor(account: string): TokenCredential | StorageSharedKeyCredential {
    if (this.#options.accountKey) return new StorageSharedKeyCredential(account, this.#options.accountKey);
    this.#credential ??= this.#options.credential ?? new DefaultAzureCredential();
    return this.#credential;
  }

  #pipelineFor(endpoint: string): StoragePipelineOptions {
    return endpoint.startsWith("https:") ? this.#pipelineOptions.https : this.#pipelineOptions.http;
  }
}

function encodeBlobName(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

function signalOf(options: ProviderCallOptions): { abortSignal?: AbortSignal } {
  return options.signal ? { abortSignal: options.signal } : {};
}

function info(size: number | undefined, md5: Uint8Array | undefined): ObjectInfo {
  return { ...(size === undefined ? {} : { size }), ...(md5 && md5.length === 16 ? { md5: Buffer.from(md5) } : {}) };
}

/** A ProviderError from an SDK error: status and service error code, never the SDK's message (it holds the URL). */
function blobError(operation: string, url: URL, error: unknown): Error {
  if (error instanceof ProviderError || isAbortError(error)) return error as Error;
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: string; details?: { errorCode?: string } }).details?.errorCode ?? (error as { code?: string }).code;
  let kind: ProviderErrorKind;
  if (status === 404) kind = "not-found";
  else if (status === 401 || status === 403) kind = "access-denied";
  else if (status === undefined || status === 408 || status === 429 || status >= 500) kind = "transient";
  else kind = "invalid";
  const name = (error as { name?: string }).name ?? "";
  if (isBlockedAddressError(error)) return new ProviderError("invalid", (error as Error).message, { cause: error });
  if (["CredentialUnavailableError", "AggregateAuthenticationError", "AuthenticationError"].includes(name)) {
    return new ProviderError(
      "access-denied",
      `${operation} ${redactUrl(url)}: could not get an Entra ID token for az:// URLs (${name} from DefaultAzureCredential, which tries managed identity, workload identity, environment and CLI credentials); give the node a managed identity (AZURE_CLIENT_ID for a user-assigned one), set AZURE_STORAGE_KEY, or use an https URL with a SAS`,
      { cause: error },
    );
  }
  const message = error instanceof Error ? (error.message.split("\n")[0] ?? "").slice(0, 300) : String(error);
  if (/Bearer token authentication is not permitted/.test(message)) {
    return new ProviderError("invalid", `${operation} ${redactUrl(url)}: Entra ID tokens are only sent over https; the account endpoint is http`, { cause: error });
  }
  // With a status, the service's error code says it all (its message repeats the URL); without one, the message is all there is.
  const what = status !== undefined ? `${status}${code ? ` ${code}` : ""}` : [code, message].filter(Boolean).join(": ") || name || "failed";
  return new ProviderError(kind, `${operation} ${redactUrl(url)}: ${what}`, { cause: error });
}
