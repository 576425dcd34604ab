import { redactUrl } from "./redact.js";

/**
 * The one error type providers throw for failures the engine must tell apart: whether to retry,
 * and what to write in the report. Any other error a provider throws (a socket reset, a timeout
 * from a client library) is treated as transient and retried.
 */
export type ProviderErrorKind =
  /** The object or directory does not exist. Not retried. */
  | "not-found"
  /** Credentials missing, wrong or without the permission needed. Not retried. */
  | "access-denied"
  /** The request can never succeed as made (a bad URL, an operation the store lacks). Not retried. */
  | "invalid"
  /** Worth another try: a dropped connection, a 5xx, throttling, a short read. */
  | "transient"
  /** The bytes received do not match the checksum or size the store announced. Retried from 0. */
  | "integrity";

export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly kind: ProviderErrorKind;

  /** `message` must already be free of secrets: name URLs through redactUrl(). */
  constructor(kind: ProviderErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }

  get retryable(): boolean {
    return this.kind === "transient" || this.kind === "integrity";
  }
}

/** Words of the AddressPolicy's refusal, by which it is known after a client library re-wrapped it. */
export const BLOCKED_MARKER = "link-local and cloud metadata addresses are blocked";

export function isBlockedAddressError(error: unknown): boolean {
  return error instanceof Error && error.message.includes(BLOCKED_MARKER);
}

/** Whether another attempt may succeed. (A run that was itself aborted stops retrying in withRetries.) */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ProviderError) return error.retryable;
  if (error instanceof LocalFileError || isBlockedAddressError(error)) return false;
  return true;
}

/** A failure on the compute node's own disk (no space, no permission): retrying won't help. */
export class LocalFileError extends Error {
  override readonly name = "LocalFileError";
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: unknown }).code === "ABORT_ERR");
}

/** The error a provider's call ends with when the engine aborted it (the run stopped, or the file went idle). */
export function abortError(url: URL, operation: string): Error {
  const error = new Error(`${operation} ${redactUrl(url)}: aborted`);
  error.name = "AbortError";
  return error;
}
