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
  response?: { headers?: { get(name: string): string | undefined } };
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
        failure = err;
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
