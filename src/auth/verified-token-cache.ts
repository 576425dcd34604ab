import { createHash } from "node:crypto";
import type { Caller } from "./caller.js";

/**
 * Callers of tokens verified recently, so that a client sending the same token on every call pays
 * for one signature check per `ttlMs`, not one per call. Keyed by the token's SHA-256 (no raw token
 * is kept). An entry never outlives the token's own `exp` (plus the clock skew the check allowed),
 * and lives at most `ttlMs`: a key retired by the issuer stops working within that time. Bounded
 * to `maxEntries`, the oldest evicted first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { caller: Caller; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  static keyOf(token: string): string {
    return createHash("sha256").update(token).digest("base64url");
  }

  get(key: string): Caller | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.caller;
  }

  /** `validUntilMs`: the instant the token stops being accepted (exp plus the clock skew). */
  set(key: string, caller: Caller, validUntilMs: number): void {
    const until = Math.min(this.now() + this.ttlMs, validUntilMs);
    if (until <= this.now()) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { caller, until });
  }
}
