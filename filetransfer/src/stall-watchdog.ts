import { ProviderError } from "./provider-error.js";

/**
 * Aborts one transfer attempt that has made no progress for `idleTimeoutInMs` — a connection that
 * went silent without closing, which some client libraries would wait on forever. Its `signal`
 * also follows the run's own signal; `stalledError()` tells the two apart.
 */
export class StallWatchdog {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #idleTimeoutInMs: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #label: string;
  #stalled = false;

  /** `label` names the transfer in the error (a redacted URL). */
  constructor(idleTimeoutInMs: number, runSignal: AbortSignal | undefined, label: string) {
    this.#idleTimeoutInMs = idleTimeoutInMs;
    this.#label = label;
    this.signal = runSignal ? AbortSignal.any([runSignal, this.#controller.signal]) : this.#controller.signal;
    this.progress();
  }

  /** Call on every chunk moved: the clock starts again. */
  progress(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#stalled = true;
      this.#controller.abort(this.#error());
    }, this.#idleTimeoutInMs);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** The error to report when the watchdog, not the run, ended the attempt; undefined otherwise. */
  stalledError(): ProviderError | undefined {
    return this.#stalled ? this.#error() : undefined;
  }

  #error(): ProviderError {
    return new ProviderError("transient", `${this.#label}: no data moved for ${this.#idleTimeoutInMs} ms; the connection stalled`);
  }
}
