/** One dependency the API needs to answer calls: answers when it is reachable, throws when not. */
export interface DependencyCheck {
  /** What the probe names when it fails: "store", "redis". */
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface DependencyFailure {
  readonly dependency: string;
  /** Short and free of secrets: "no answer within 2000 ms", "ECONNREFUSED", "error". */
  readonly reason: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** True once shutdown has begun: the process finishes what it holds and takes nothing new. */
  readonly draining: boolean;
  readonly failures: readonly DependencyFailure[];
}

export interface ReadinessOptions {
  readonly checks: readonly DependencyCheck[];
  /** READINESS_TIMEOUT_MS: how long each check may take before it counts as failed. */
  readonly timeoutMs: number;
  /** Told of each failed check with its full error, to log it (the report carries no message). */
  readonly onFailure?: (dependency: string, error: unknown) => void;
}

/**
 * Whether this process should be sent traffic: every dependency answered within the timeout, and
 * shutdown has not begun. Probes arriving while a check is running share its answer, so a burst
 * of probes costs one round trip to each dependency.
 */
export class Readiness {
  private drainingSince: number | undefined;
  private running: Promise<ReadinessReport> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: ReadinessOptions) {}

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** From now on every report says not ready (shutdown has begun). */
  startDraining(): void {
    if (this.drainingSince !== undefined) return;
    this.drainingSince = Date.now();
    for (const listener of this.listeners) listener();
  }

  /** Called once when draining starts; returns the function that stops listening. */
  onDraining(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  check(): Promise<ReadinessReport> {
    if (this.draining) return Promise.resolve({ ready: false, draining: true, failures: [] });
    this.running ??= this.runChecks().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runChecks(): Promise<ReadinessReport> {
    const { timeoutMs } = this.options;
    const results = await Promise.all(
      this.options.checks.map(async (dependency): Promise<DependencyFailure | undefined> => {
        const controller = new AbortController();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), timeoutMs);
        });
        try {
          const outcome = await Promise.race([dependency.check(controller.signal).then(() => "ok" as const), timeout]);
          if (outcome === "ok") return undefined;
          controller.abort();
          this.options.onFailure?.(dependency.name, new Error(`no answer within ${timeoutMs} ms`));
          return { dependency: dependency.name, reason: `no answer within ${timeoutMs} ms` };
        } catch (error) {
          this.options.onFailure?.(dependency.name, error);
          return { dependency: dependency.name, reason: safeReason(error) };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const failures = results.filter((failure): failure is DependencyFailure => failure !== undefined);
    // Shutdown may have begun while the checks ran.
    return { ready: failures.length === 0 && !this.draining, draining: this.draining, failures };
  }
}

/**
 * A reason safe to show anyone: a system error code (ECONNREFUSED, ETIMEDOUT) or a PostgreSQL
 * SQLSTATE, never a message (which may carry a host, a user or a connection string).
 */
function safeReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code) ? code : "error";
}
