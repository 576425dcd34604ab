import { setTimeout as sleep } from "node:timers/promises";
import { isRetryable } from "./provider-error.js";

export interface RetryOptions {
  /** Further attempts after the first one fails. */
  retries: number;
  /** Delay before the first retry; doubles each time (with ±20% jitter), up to maxDelayInMs. */
  baseDelayInMs: number;
  maxDelayInMs: number;
  signal?: AbortSignal;
}

export const DEFAULT_RETRY_OPTIONS: RetryOptions = { retries: 4, baseDelayInMs: 500, maxDelayInMs: 30_000 };

/**
 * Runs `attempt` until it succeeds, fails with an error that is not worth retrying (see
 * isRetryable), or has failed `retries + 1` times; the last error is thrown.
 */
export async function withRetries<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  options: RetryOptions,
  onRetry?: (error: unknown, attemptNumber: number, delayInMs: number) => void,
): Promise<T> {
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      if (attemptNumber > options.retries || !isRetryable(error) || options.signal?.aborted) throw error;
      const exponential = Math.min(options.maxDelayInMs, options.baseDelayInMs * 2 ** (attemptNumber - 1));
      const delayInMs = Math.round(exponential * (0.8 + Math.random() * 0.4));
      onRetry?.(error, attemptNumber, delayInMs);
      await sleep(delayInMs, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}
