import { ConfigError, EnvReader, type Env } from "./env-reader.js";

/**
 * Who may call the API. `none` (the default) is the standalone server: no sign-in, one user who
 * sees every task. `oidc` requires an OAuth 2.0 bearer token (a JWT) from one OpenID Connect issuer
 * (Microsoft Entra ID, or any other) on every call except the public procedures.
 */
export type AuthConfig =
  | { readonly mode: "none" }
  | { readonly mode: "oidc"; readonly oidc: OidcConfig; readonly publicProcedures: readonly string[]; readonly realm: string };

export type Isolation = "per-tenant" | "per-user";

export interface OidcConfig {
  /**
   * OIDC_ISSUER: the exact `iss` of accepted tokens, or a template holding `{tenantid}` for a
   * multi-tenant issuer (Entra ID v2: `https://login.microsoftonline.com/{tenantid}/v2.0`). With a
   * template, a token's `iss` must equal the template with the token's own `tid` (a GUID) put in.
   */
  readonly issuer: string;
  readonly issuerIsTemplate: boolean;
  /**
   * OIDC_DISCOVERY_URL: the OpenID configuration document. Default: the issuer (with `{tenantid}`
   * replaced by `organizations`, Entra's any-organisation tenant) + `/.well-known/openid-configuration`.
   * Its `issuer` must equal OIDC_ISSUER exactly (the template itself, for a template).
   */
  readonly discoveryUrl: URL;
  /** OIDC_AUDIENCE: comma-separated; a token's `aud` must hold one of them (Entra v2: the API's client id). */
  readonly audiences: readonly string[];
  /**
   * OIDC_ALLOWED_TENANTS: comma-separated tenant GUIDs whose tokens are accepted (others get
   * permission_denied), or `*` for any tenant. Required with an issuer template; optional with an
   * exact issuer (then, when set, tokens must carry an allowed `tid`).
   */
  readonly allowedTenants: ReadonlySet<string> | "any";
  /** TES_ISOLATION: `per-tenant` (owner = tid) or `per-user` (owner = tid or issuer, "/", oid or sub). Default per-tenant. */
  readonly isolation: Isolation;
  /** TES_ADMIN_ROLE: a `roles` claim value that sees and cancels every task. Unset: no admins. */
  readonly adminRole: string | undefined;
  /** TES_USER_ROLE: a `roles` claim value every caller must hold (admins excepted). Unset: any valid token. */
  readonly userRole: string | undefined;
  /**
   * OIDC_REQUIRED_SCOPES: comma-separated; a delegated token (one with Entra's `scp` claim, or a
   * `scope` claim) must hold at least one of them. App-only tokens have no scopes: govern them
   * with TES_USER_ROLE. Unset: no scope check.
   */
  readonly requiredScopes: readonly string[];
  /** OIDC_CLOCK_SKEW_SECONDS: tolerance on `exp` and `nbf`. Default 60, at most 300. */
  readonly clockSkewSeconds: number;
  /** OIDC_ALGORITHMS: comma-separated JWS algorithms accepted. Default RS256. `none` and HS* are refused. */
  readonly algorithms: readonly string[];
  /**
   * OIDC_KEYS_MAX_AGE_SECONDS: after this long the issuer's keys (and discovery document) are
   * re-read in the background while the known keys keep serving. Default 3600.
   */
  readonly keysMaxAgeSeconds: number;
  /**
   * OIDC_KEYS_REFRESH_COOLDOWN_SECONDS: a token with an unknown key id re-reads the keys at most once
   * per this many seconds, so forged key ids cannot make the server hammer the issuer. Default 300
   * (Microsoft's guidance); 0 re-reads on every unknown key id.
   */
  readonly keysRefreshCooldownSeconds: number;
  /** OIDC_FETCH_TIMEOUT_MS: the longest wait for the discovery document or the keys. Default 5000. */
  readonly fetchTimeoutMs: number;
  /**
   * OIDC_TOKEN_CACHE_SECONDS: how long a verified token's caller is remembered (by the token's
   * SHA-256), never past the token's expiry. Default 60; 0 verifies every call. Tokens of a key
   * the issuer retires keep working at most this long.
   */
  readonly tokenCacheSeconds: number;
  /** OIDC_TOKEN_CACHE_SIZE: the most tokens remembered at once. Default 10000. */
  readonly tokenCacheSize: number;
}

/** JWS algorithms that use a public key; the only ones a resource server can verify safely. */
export const PUBLIC_KEY_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

/**
 * TES_AUTH_PUBLIC_METHODS: procedures (package.Service/Method) callable without a token, or `none`.
 * GetServiceInfo and gRPC health checking are public by default: TES clients call it to discover the server before signing in. */
export const DEFAULT_PUBLIC_PROCEDURES = [
  "ga4gh.tes.v1.TaskService/GetServiceInfo",
  // gRPC health checking: platform probes (Kubernetes grpc probes, load balancers) send no token.
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/List",
  "grpc.health.v1.Health/Watch",
];
/** The procedures that hold nothing per caller, and so may be public. */
const MAY_BE_PUBLIC = [
  ...DEFAULT_PUBLIC_PROCEDURES,
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

const TENANT_PLACEHOLDER = "{tenantid}";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

export function loadAuthConfig(env: Env): AuthConfig {
  const read = new EnvReader(env);
  const mode = read.oneOf("TES_AUTH_MODE", ["none", "oidc"], "none");
  if (mode === "none") return { mode };

  const issuer = read.optionalString("OIDC_ISSUER");
  if (issuer === undefined) throw new ConfigError("OIDC_ISSUER is required when TES_AUTH_MODE is oidc");
  const issuerIsTemplate = issuer.includes(TENANT_PLACEHOLDER);
  const issuerUrl = parseUrl("OIDC_ISSUER", issuerIsTemplate ? issuer.replaceAll(TENANT_PLACEHOLDER, "organizations") : issuer);
  requireSecureUrl("OIDC_ISSUER", issuerUrl);
  const discoveryUrl = read.optionalString("OIDC_DISCOVERY_URL") !== undefined
    ? parseUrl("OIDC_DISCOVERY_URL", read.string("OIDC_DISCOVERY_URL", ""))
    : new URL(`${issuerUrl.href.replace(/\/+$/, "")}/.well-known/openid-configuration`);
  requireSecureUrl("OIDC_DISCOVERY_URL", discoveryUrl);

  const audiences = read.list("OIDC_AUDIENCE");
  if (audiences.length === 0) {
    throw new ConfigError("OIDC_AUDIENCE is required when TES_AUTH_MODE is oidc: the API's client id (Entra ID v2) or App ID URI");
  }

  const tenants = read.list("OIDC_ALLOWED_TENANTS").map((t) => t.toLowerCase());
  let allowedTenants: ReadonlySet<string> | "any";
  if (tenants.length === 1 && tenants[0] === "*") allowedTenants = "any";
  else {
    for (const tenant of tenants) {
      if (!isGuid(tenant)) throw new ConfigError(`OIDC_ALLOWED_TENANTS must hold tenant GUIDs or be "*", got "${tenant}"`);
    }
    if (issuerIsTemplate && tenants.length === 0) {
      throw new ConfigError(
        `OIDC_ALLOWED_TENANTS is required with a multi-tenant OIDC_ISSUER (${TENANT_PLACEHOLDER}): list the tenant GUIDs to accept, or "*" for any tenant`,
      );
    }
    allowedTenants = tenants.length === 0 && !issuerIsTemplate ? "any" : new Set(tenants);
  }

  const algorithms = read.list("OIDC_ALGORITHMS", ["RS256"]);
  for (const alg of algorithms) {
    if (!(PUBLIC_KEY_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError(
        `OIDC_ALGORITHMS may only name public-key algorithms (${PUBLIC_KEY_ALGORITHMS.join(", ")}), got "${alg}"`,
      );
    }
  }
  if (algorithms.length === 0) throw new ConfigError("OIDC_ALGORITHMS must name at least one algorithm");

  const publicSetting = read.list("TES_AUTH_PUBLIC_METHODS", DEFAULT_PUBLIC_PROCEDURES);
  const publicProcedures = publicSetting.length === 1 && publicSetting[0] === "none" ? [] : publicSetting;
  for (const procedure of publicProcedures) {
    if (!/^[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(procedure)) {
      throw new ConfigError(`TES_AUTH_PUBLIC_METHODS must list procedures as package.Service/Method, got "${procedure}"`);
    }
    // Task procedures stay behind sign-in: anonymous callers would all share one owner.
    if (!MAY_BE_PUBLIC.includes(procedure)) {
      throw new ConfigError(`TES_AUTH_PUBLIC_METHODS may only list ${MAY_BE_PUBLIC.join(", ")}; got "${procedure}"`);
    }
  }
  const realm = read.string("TES_AUTH_REALM", "tes");
  if (!/^[\w.\- ]+$/.test(realm)) throw new ConfigError("TES_AUTH_REALM may hold only letters, digits, spaces, '.', '-' and '_'");

  return {
    mode,
    realm,
    publicProcedures,
    oidc: {
      issuer,
      issuerIsTemplate,
      discoveryUrl,
      audiences,
      allowedTenants,
      isolation: read.oneOf("TES_ISOLATION", ["per-tenant", "per-user"], "per-tenant"),
      adminRole: read.optionalString("TES_ADMIN_ROLE"),
      userRole: read.optionalString("TES_USER_ROLE"),
      requiredScopes: read.list("OIDC_REQUIRED_SCOPES"),
      clockSkewSeconds: read.integer("OIDC_CLOCK_SKEW_SECONDS", 60, { min: 0, max: 300 }),
      algorithms,
      keysMaxAgeSeconds: read.integer("OIDC_KEYS_MAX_AGE_SECONDS", 3600, { min: 60, max: 7 * 24 * 3600 }),
      keysRefreshCooldownSeconds: read.number("OIDC_KEYS_REFRESH_COOLDOWN_SECONDS", 300, { min: 0, max: 24 * 3600 }),
      fetchTimeoutMs: read.integer("OIDC_FETCH_TIMEOUT_MS", 5000, { min: 100, max: 60_000 }),
      tokenCacheSeconds: read.integer("OIDC_TOKEN_CACHE_SECONDS", 60, { min: 0, max: 3600 }),
      tokenCacheSize: read.integer("OIDC_TOKEN_CACHE_SIZE", 10_000, { min: 0, max: 1_000_000 }),
    },
  };
}

function parseUrl(name: string, raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL, got "${raw}"`);
  }
}

/** Keys fetched over plain http could be swapped by anyone on the path; only loopback is exempt (local issuers). */
export function requireSecureUrl(name: string, url: URL): void {
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return;
  throw new ConfigError(`${name} must be an https URL (plain http only on loopback), got "${url.href}"`);
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** One line for the start-up log: the mode, issuer, isolation and who is admitted; nothing secret. */
export function describeAuthConfig(config: AuthConfig): string {
  if (config.mode === "none") return "no sign-in (standalone: one user who sees every task)";
  const { oidc } = config;
  const tenants = oidc.allowedTenants === "any" ? "any tenant" : `${oidc.allowedTenants.size} allowed tenant(s)`;
  const roles = [oidc.adminRole && `admin role ${oidc.adminRole}`, oidc.userRole && `user role ${oidc.userRole}`].filter(Boolean).join(", ");
  return `OIDC bearer tokens from ${oidc.issuer} (${tenants}), isolation ${oidc.isolation}${roles === "" ? "" : `, ${roles}`}; public: ${config.publicProcedures.join(", ") || "none"}`;
}
