/**
 * Every Batch call goes through here: at most `maxConcurrent` in flight, and throttled (429, 503)
 * or failed (5xx, 408, network) calls retried with backoff, honouring Retry-After. The SDK's own
 * retry policies are off: @azure/batch 10.2.0 never retries a 429 (its deserialization policy
 * throws before the throttling policy sees the answer) and backs off 30 s on 5xx ignoring
 * Retry-After (test/emulators/batch/README.md, "Measured SDK behaviour").
 */
export interface CallGateOptions {
  maxConcurrent: number;
  maxRetries: number;
  maxRetryDelayMs: number;
  /** The first backoff when the answer gives no Retry-After. Default 500 ms. */
  baseDelayMs?: number;
  signal?: AbortSignal;
}

interface RestErrorLike {
  statusCode?: number;
  code?: string;
  response?: { headers?: { get(name: string): string | undefined } | undefined };
}

export function statusOf(err: unknown): number | undefined {
  return typeof err === "object" && err !== null ? (err as RestErrorLike).statusCode : undefined;
}

export function codeOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null ? (err as RestErrorLike).code : undefined;
}

function retryable(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined) {
    // No HTTP answer: a dropped connection or a timeout. SDK validation errors carry no status but
    // are not transient; they are thrown synchronously-shaped with a "ValidationError"-like name.
    const name = (err as Error | undefined)?.name ?? "";
    const code = codeOf(err) ?? "";
    return name === "FetchError" || /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|REQUEST_SEND_ERROR/.test(code);
  }
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

function retryAfterMs(err: unknown): number | undefined {
  const header = (err as RestErrorLike).response?.headers?.get("retry-after");
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * What a failed Batch call throws: the status, the service's code and the first line of its
 * message. The SDK's RestError carries the whole request (task documents may hold SAS URLs), so it
 * never leaves this module.
 */
export class BatchCallError extends Error {
  override readonly name = "BatchCallError";
  constructor(
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
    message: string,
    readonly response?: RestErrorLike["response"],
    /** The error's values that say what is wrong (PropertyName, Reason, ...), never a value from the request. */
    readonly details: readonly { key: string; value: string }[] = [],
  ) {
    super(message);
  }
}

/** Error values that name what is wrong; others (a request's own values) are dropped. */
const SAFE_DETAIL_KEYS = new Set(["PropertyName", "Reason", "QueryParameterName", "HeaderName"]);

function clean(err: unknown): unknown {
  if (err instanceof BatchCallError || typeof err !== "object" || err === null) return err;
  const status = statusOf(err);
  const code = codeOf(err);
  const body = (err as { body?: { message?: { value?: string } | string; values?: unknown } }).body;
  const raw = typeof body?.message === "string" ? body.message : body?.message?.value ?? (err as Error).message;
  const first = typeof raw === "string" ? raw.split("\n")[0] : "";
  const details = (Array.isArray(body?.values) ? (body.values as { key?: unknown; value?: unknown }[]) : []).flatMap((v) =>
    typeof v.key === "string" && typeof v.value === "string" && SAFE_DETAIL_KEYS.has(v.key) ? [{ key: v.key, value: v.value.slice(0, 300) }] : [],
  );
  return new BatchCallError(status, code, `Azure Batch call failed${status === undefined ? "" : ` (HTTP ${status}`}${code === undefined ? "" : ` ${code}`}${status === undefined ? "" : ")"}: ${first}`, { headers: (err as RestErrorLike).response?.headers }, details);
}

export class BatchCallGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Calls retried, by HTTP status (or "network"): for logs and benchmarks. */
  readonly retries = new Map<string, number>();

  constructor(private readonly options: CallGateOptions) {}

  private async acquire(): Promise<void> {
    if (this.running < this.options.maxConcurrent) {
      this.running += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.running -= 1;
  }

  async call<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      await this.acquire();
      let failure: unknown;
      try {
        return await fn();
      } catch (err) {
        failure = clean(err);
      } finally {
        this.release();
      }
      if (attempt >= this.options.maxRetries || !retryable(failure) || this.options.signal?.aborted === true) throw failure;
      const key = String(statusOf(failure) ?? "network");
      this.retries.set(key, (this.retries.get(key) ?? 0) + 1);
      const base = this.options.baseDelayMs ?? 500;
      const backoff = Math.min(this.options.maxRetryDelayMs, base * 2 ** attempt) * (0.5 + Math.random() / 2);
      const delay = Math.min(this.options.maxRetryDelayMs, retryAfterMs(failure) ?? backoff);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
