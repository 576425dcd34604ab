import { importJWK, type CryptoKey, type JWK, type JWSHeaderParameters } from "jose";
import { isLoopbackHost } from "../config/auth.js";

/**
 * The issuer's signing keys, found through OIDC discovery and kept in memory. Requests never wait
 * on the issuer once keys are known:
 * - keys older than `maxAgeMs` are re-read in the background while the known ones keep serving
 *   (and stay in use when the re-read fails: the last good set wins);
 * - a token with an unknown key id re-reads them at once (a rotation), but at most once per
 *   `refreshCooldownMs`, so forged key ids cannot make the server hammer the issuer;
 * - concurrent re-reads share one fetch.
 * We keep the raw JWKS (not jose's remote set) to read Entra's per-key `issuer` member and to
 * serve stale keys through an issuer outage.
 */
export interface IssuerKeysOptions {
  readonly discoveryUrl: URL;
  /** The discovery document's `issuer` must equal this (OIDC Discovery §4.3). */
  readonly expectedIssuer: string;
  readonly maxAgeMs: number;
  readonly refreshCooldownMs: number;
  readonly fetchTimeoutMs: number;
  /** Told of background re-reads that failed (the old keys stay in use). */
  readonly onRefreshError?: (error: unknown) => void;
  readonly now?: () => number;
}

/** One verification key the issuer publishes. */
export interface SigningKey {
  readonly jwk: JWK;
  /** Entra ID's per-key `issuer` (an exact issuer or the `{tenantid}` template), when published. */
  readonly issuer: string | undefined;
  /** The key imported for one algorithm (cached). */
  importFor(alg: string): Promise<CryptoKey | Uint8Array>;
}

/** The issuer's keys cannot be had (unreachable, bad answer) and none are cached. */
export class KeysUnavailableError extends Error {
  override readonly name = "KeysUnavailableError";
}

/** No published key fits the token's header (unknown kid, wrong key type). */
export class NoMatchingKeyError extends Error {
  override readonly name = "NoMatchingKeyError";
}

interface KeySnapshot {
  readonly keys: readonly SigningKey[];
  readonly fetchedAt: number;
}

/** Even with no keys at all, failing fetches are retried at most this often. */
const RETRY_WITHOUT_KEYS_MS = 2000;
/** A discovery document or JWKS larger than this is not one. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

export class IssuerKeys {
  private snapshot: KeySnapshot | undefined;
  private inflight: Promise<KeySnapshot> | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly options: IssuerKeysOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Reads discovery and keys now; rejects when they cannot be had. For start-up. */
  async load(): Promise<void> {
    await this.refresh();
  }

  /** The key for a token's protected header. */
  async keyFor(header: JWSHeaderParameters): Promise<SigningKey> {
    let snapshot = this.snapshot;
    if (snapshot === undefined) {
      if (this.inflight === undefined && this.now() - this.lastAttemptAt < RETRY_WITHOUT_KEYS_MS) {
        throw new KeysUnavailableError("the issuer's keys could not be read recently");
      }
      snapshot = await this.refresh();
    } else if (this.now() - snapshot.fetchedAt >= this.options.maxAgeMs && this.inflight === undefined) {
      this.refresh().catch((error: unknown) => this.options.onRefreshError?.(error));
    }
    let match = selectKey(snapshot.keys, header);
    if (match === undefined && this.now() - this.lastAttemptAt >= this.options.refreshCooldownMs) {
      try {
        snapshot = await this.refresh();
      } catch (error) {
        this.options.onRefreshError?.(error);
      }
      match = selectKey(snapshot.keys, header);
    }
    if (match === undefined) throw new NoMatchingKeyError("no published key matches the token");
    return match;
  }

  private refresh(): Promise<KeySnapshot> {
    if (this.inflight !== undefined) return this.inflight;
    this.lastAttemptAt = this.now();
    this.inflight = this.fetchKeys()
      .then((snapshot) => {
        this.snapshot = snapshot;
        return snapshot;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  private async fetchKeys(): Promise<KeySnapshot> {
    const discovery = await this.fetchJson(this.options.discoveryUrl, "discovery document");
    const issuer = (discovery as { issuer?: unknown }).issuer;
    if (issuer !== this.options.expectedIssuer) {
      throw new KeysUnavailableError(`the discovery document names another issuer than the one configured`);
    }
    const jwksUri = (discovery as { jwks_uri?: unknown }).jwks_uri;
    if (typeof jwksUri !== "string") throw new KeysUnavailableError("the discovery document has no jwks_uri");
    let url: URL;
    try {
      url = new URL(jwksUri);
    } catch {
      throw new KeysUnavailableError("the discovery document's jwks_uri is not a URL");
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
      throw new KeysUnavailableError("the discovery document's jwks_uri is not https");
    }
    const jwks = await this.fetchJson(url, "key set");
    const keys = (jwks as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new KeysUnavailableError("the key set has no keys array");
    return { keys: keys.filter(isPublicSigningJwk).map(signingKey), fetchedAt: this.now() };
  }

  private async fetchJson(url: URL, what: string): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(url, {
        redirect: "manual",
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(this.options.fetchTimeoutMs),
      });
    } catch (error) {
      throw new KeysUnavailableError(`the issuer's ${what} could not be fetched from ${url.origin}`, { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new KeysUnavailableError(`the issuer's ${what} answered HTTP ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new KeysUnavailableError(`the issuer's ${what} is larger than 1 MiB`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KeysUnavailableError(`the issuer's ${what} is not JSON`);
    }
  }
}

/** Only asymmetric keys meant for signatures: a shared-secret (`oct`) key in a public set is never trusted. */
function isPublicSigningJwk(value: unknown): value is JWK {
  if (typeof value !== "object" || value === null) return false;
  const jwk = value as JWK;
  if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") return false;
  if (jwk.use !== undefined && jwk.use !== "sig") return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes("verify")) return false;
  return jwk.d === undefined;
}

function signingKey(jwk: JWK): SigningKey {
  const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
  const issuer = (jwk as { issuer?: unknown }).issuer;
  return {
    jwk,
    issuer: typeof issuer === "string" ? issuer : undefined,
    importFor(alg) {
      let key = imported.get(alg);
      if (key === undefined) {
        key = importJWK({ ...jwk, ext: false }, alg);
        imported.set(alg, key);
        key.catch(() => imported.delete(alg));
      }
      return key;
    },
  };
}

function keyTypeFor(alg: string): { kty: string; crv?: readonly string[] } | undefined {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return { kty: "RSA" };
  if (alg === "ES256") return { kty: "EC", crv: ["P-256"] };
  if (alg === "ES384") return { kty: "EC", crv: ["P-384"] };
  if (alg === "ES512") return { kty: "EC", crv: ["P-521"] };
  if (alg === "EdDSA" || alg === "Ed25519") return { kty: "OKP", crv: ["Ed25519"] };
  return undefined;
}

/** The one key for this header: same key id (when given), a key type that fits the algorithm. */
function selectKey(keys: readonly SigningKey[], header: JWSHeaderParameters): SigningKey | undefined {
  const alg = header.alg;
  if (alg === undefined) return undefined;
  const type = keyTypeFor(alg);
  if (type === undefined) return undefined;
  const candidates = keys.filter(({ jwk }) => {
    if (jwk.kty !== type.kty) return false;
    if (type.crv !== undefined && (jwk.crv === undefined || !type.crv.includes(jwk.crv))) return false;
    if (jwk.alg !== undefined && jwk.alg !== alg) return false;
    return header.kid === undefined || jwk.kid === header.kid;
  });
  // Without a key id, only an unambiguous set can say which key signed.
  return candidates.length === 1 ? candidates[0] : undefined;
}
