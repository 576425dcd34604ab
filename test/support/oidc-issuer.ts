import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/**
 * A real OpenID Connect issuer on loopback, for tests: its own signing keys (jose generateKeyPair),
 * discovery documents and a JWKS endpoint, and the access tokens it signs. It serves two shapes:
 * - a single issuer at `${baseUrl}/issuer` (any OIDC provider);
 * - Entra ID style multi-tenant issuers `${baseUrl}/{tenantid}/v2.0`: the `organizations`
 *   discovery document names the `{tenantid}` template, each tenant's document its exact issuer,
 *   and every published key carries Entra's `issuer` member (the template).
 * Keys rotate on demand; every request is counted so tests can prove the server does not fetch
 * keys per call.
 */
export interface TestSigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface TokenOptions {
  /** Claims to set or override; `undefined` values remove a default claim. */
  readonly claims?: Record<string, unknown>;
  /** Sign with this key instead of the current published one. */
  readonly key?: TestSigningKey;
  /** The header's kid; default the signing key's. */
  readonly kid?: string;
  /** Seconds from now; default 3600. */
  readonly expiresIn?: number;
}

export class OidcTestIssuer {
  /** Requests per path (discovery documents, the key sets `/issuer/jwks` and `/discovery/v2.0/keys`). */
  readonly hits = new Map<string, number>();
  /** While set, the key set answers HTTP 500 (an issuer outage). */
  failKeys = false;
  /** Entra's per-key `issuer` member in `/discovery/v2.0/keys`; default the `{tenantid}` template. */
  keyIssuer: string | undefined;
  private published: TestSigningKey[] = [];
  private current!: TestSigningKey;
  private server: Server | undefined;
  private base = "";

  static async start(): Promise<OidcTestIssuer> {
    const issuer = new OidcTestIssuer();
    issuer.current = await newSigningKey();
    issuer.published = [issuer.current];
    await issuer.listen();
    return issuer;
  }

  get baseUrl(): string {
    return this.base;
  }

  /** The single-issuer shape's issuer. */
  get issuer(): string {
    return `${this.base}/issuer`;
  }

  /** The Entra-style template, `${baseUrl}/{tenantid}/v2.0`. */
  get issuerTemplate(): string {
    return `${this.base}/{tenantid}/v2.0`;
  }

  tenantIssuer(tenant: string): string {
    return `${this.base}/${tenant}/v2.0`;
  }

  /** How often the key set was fetched. */
  get keyFetches(): number {
    return (this.hits.get("/discovery/v2.0/keys") ?? 0) + (this.hits.get("/issuer/jwks") ?? 0);
  }

  /** The key tokens are signed with unless told otherwise. */
  get currentKey(): TestSigningKey {
    return this.current;
  }

  /** A new current signing key, published beside the old ones (unless `retireOld`). */
  async rotate(options: { retireOld?: boolean } = {}): Promise<TestSigningKey> {
    const key = await newSigningKey();
    this.published = options.retireOld ? [key] : [...this.published, key];
    this.current = key;
    return key;
  }

  /** A key this issuer never publishes: tokens it signs have a bad signature. */
  async foreignKey(kid = this.current.kid): Promise<TestSigningKey> {
    return { ...(await newSigningKey()), kid };
  }

  /** An access token for the single issuer, signed with the current key. */
  async token(options: TokenOptions = {}): Promise<string> {
    return this.sign({ iss: this.issuer, aud: "api://tes", sub: `user-${randomUUID()}` }, options);
  }

  /** An Entra ID v2 style access token from `tenant`'s issuer. */
  async tenantToken(tenant: string, options: TokenOptions = {}): Promise<string> {
    return this.sign(
      { iss: this.tenantIssuer(tenant), aud: "api://tes", tid: tenant, oid: randomUUID(), sub: randomUUID(), ver: "2.0" },
      options,
    );
  }

  async sign(defaults: Record<string, unknown>, options: TokenOptions): Promise<string> {
    const key = options.key ?? this.current;
    const payload: Record<string, unknown> = { ...defaults, ...options.claims };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(payload as JWTPayload)
      .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: "JWT" })
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + (options.expiresIn ?? 3600));
    if (options.claims && "exp" in options.claims) jwt.setExpirationTime(options.claims.exp as number);
    if (options.claims && "nbf" in options.claims) jwt.setNotBefore(options.claims.nbf as number);
    return jwt.sign(key.privateKey);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private listen(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const jwksUri = `${this.base}/discovery/v2.0/keys`;
      if (path === "/discovery/v2.0/keys" || path === "/issuer/jwks") {
        if (this.failKeys) return json(500, { error: "temporarily_unavailable" });
        // Entra's key set names the issuers each key signs for; a plain OIDC provider's does not.
        const entra = path === "/discovery/v2.0/keys";
        return json(200, { keys: this.published.map((k) => (entra ? { ...k.publicJwk, issuer: this.keyIssuer ?? this.issuerTemplate } : k.publicJwk)) });
      }
      if (path === "/issuer/.well-known/openid-configuration") {
        return json(200, { issuer: this.issuer, jwks_uri: `${this.base}/issuer/jwks`, id_token_signing_alg_values_supported: ["RS256"] });
      }
      const tenantDocument = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
      if (tenantDocument?.[1] !== undefined) {
        const tenant = tenantDocument[1];
        const issuer = ["organizations", "common"].includes(tenant) ? this.issuerTemplate : this.tenantIssuer(tenant);
        return json(200, { issuer, jwks_uri: jwksUri, id_token_signing_alg_values_supported: ["RS256"] });
      }
      json(404, { error: "not_found" });
    });
    return new Promise((resolve) => {
      this.server!.listen(0, "127.0.0.1", () => {
        this.base = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }
}

async function newSigningKey(alg = "RS256"): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}
