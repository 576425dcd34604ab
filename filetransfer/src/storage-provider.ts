import type { Readable } from "node:stream";

/**
 * One kind of storage (Azure Blob, HTTP, SFTP, ...), behind the small interface the transfer engine
 * needs. A provider does no retries, no parallelism and no path checks: the engine does those once,
 * for every provider. Each method honours `signal`, and errors name the URL without its secrets.
 * Failures the engine must tell apart (missing object, bad credentials) are thrown as ProviderError
 * (provider-error.ts); anything else is taken as transient and retried. Connections go through the
 * AddressPolicy of the ProviderContext (provider-registry.ts), so metadata addresses stay refused.
 */
export interface StorageProvider {
  /** URL schemes handled, without the colon: ["https", "http"], ["s3"], ... */
  readonly schemes: readonly string[];

  /**
   * Optional refinement when several providers share a scheme: Azure Blob claims the https URLs of
   * blob endpoints, the plain HTTP provider takes the rest. Without it, the scheme alone decides.
   */
  handles?(url: URL): boolean;

  /** Size and checksum of one object, or undefined when it does not exist. */
  stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined>;

  /**
   * Streams one object, from `offset` on (for resuming an interrupted download) where the
   * provider supports ranges; `resumable` on the returned info says whether it honoured it.
   */
  read(url: URL, options: ReadOptions): Promise<ReadResult>;

  /** Every object under a directory URL, with its path relative to that directory ("a/b.txt"). */
  list(directoryUrl: URL, options: ProviderCallOptions): AsyncIterable<ListedObject>;

  /** Stores one object from a stream of `size` bytes, creating parent directories as needed. */
  write(url: URL, body: Readable, options: WriteOptions): Promise<void>;

  /** Releases connections and pools. */
  close?(): Promise<void>;
}

export interface ProviderCallOptions {
  signal?: AbortSignal;
}

export interface ReadOptions extends ProviderCallOptions {
  offset?: number;
}

export interface WriteOptions extends ProviderCallOptions {
  size: number;
  /** MD5 of the whole body, for stores that check it on upload. */
  md5?: Buffer;
}

export interface ObjectInfo {
  /** Size of the whole object in bytes, also when a read starts at an offset. */
  size?: number;
  /** MD5 of the content, when the store keeps one (Azure Content-MD5, S3 single-part ETag, GCS md5Hash). */
  md5?: Buffer;
}

export interface ReadResult extends ObjectInfo {
  body: Readable;
  /** True when the body starts at the requested offset; false when it starts at 0. */
  resumed: boolean;
}

export interface ListedObject extends ObjectInfo {
  url: URL;
  relativePath: string;
}
