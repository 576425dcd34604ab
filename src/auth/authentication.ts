import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { AuthConfig } from "../config/auth.js";
import { wireProtocolKey } from "../interceptors/wire-protocol.js";
import { authError, AuthRejection } from "./auth-errors.js";
import { bearerTokenOf } from "./bearer-token.js";
import { callerKey, type Caller } from "./caller.js";
import { callerFromClaims } from "./caller-from-claims.js";
import { IssuerKeys } from "./issuer-keys.js";
import { TokenVerifier } from "./token-verifier.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";
import { ownedBy } from "../store/task-store.js";

/**
 * The caller of a public procedure who sent no token: owns nothing and sees nothing. Owners are
 * tenant GUIDs or "<tenant>/<id>", so this one can never match a real owner.
 */
export const ANONYMOUS_CALLER: Caller = { owner: "anonymous", scope: ownedBy("anonymous") };

export interface Authentication {
  /** For createTesServer's `interceptors`: empty in mode none (every call is the standalone caller). */
  readonly interceptors: readonly Interceptor[];
  /**
   * Reads the issuer's discovery document and keys now, so a wrong issuer fails at start-up and the
   * first call does not wait. Rejects when they cannot be had. Nothing to do in mode none.
   */
  load(): Promise<void>;
}

export interface AuthenticationOptions {
  /** Rejections are logged at debug (reason codes only), issuer trouble at warn. Never a token. */
  readonly logger?: Logger;
}

/**
 * Authentication and authorisation for the whole API, as one interceptor that createTesServer puts
 * in the chain every protocol shares (REST, gRPC, gRPC-Web, Connect): it checks the bearer token
 * and sets the caller (owner and scope) that the handlers hand to the store.
 *
 * Public procedures (TES_AUTH_PUBLIC_METHODS: GetServiceInfo and gRPC health by default) take a token but do not
 * need one: without one they run as ANONYMOUS_CALLER; a bad token is refused there too.
 */
export function createAuthentication(config: AuthConfig, options: AuthenticationOptions = {}): Authentication {
  if (config.mode === "none") return { interceptors: [], load: async () => {} };
  const { oidc, realm } = config;
  const logger = options.logger;
  const keys = new IssuerKeys({
    discoveryUrl: oidc.discoveryUrl,
    expectedIssuer: oidc.issuer,
    maxAgeMs: oidc.keysMaxAgeSeconds * 1000,
    refreshCooldownMs: oidc.keysRefreshCooldownSeconds * 1000,
    fetchTimeoutMs: oidc.fetchTimeoutMs,
    onRefreshError: (error) => logger?.warn({ err: describe(error) }, "re-reading the OIDC issuer's keys failed; the known keys stay in use"),
  });
  const verifier = new TokenVerifier(oidc, keys);
  const cache = new VerifiedTokenCache(oidc.tokenCacheSeconds * 1000, oidc.tokenCacheSize);
  const authenticate = async (token: string): Promise<Caller> => {
    if (!cache.enabled) return callerFromClaims(await verifier.verify(token), oidc);
    const key = VerifiedTokenCache.keyOf(token);
    const known = cache.get(key);
    if (known !== undefined) return known;
    const claims = await verifier.verify(token);
    const caller = callerFromClaims(claims, oidc);
    // verify() required exp, so it is a number here.
    cache.set(key, caller, ((claims.payload.exp ?? 0) + oidc.clockSkewSeconds) * 1000);
    return caller;
  };
  const publicProcedures = new Set(config.publicProcedures);

  const interceptor: Interceptor = (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const bearer = bearerTokenOf(req.header);
    try {
      let caller: Caller;
      if (bearer.kind === "none") {
        if (!publicProcedures.has(procedure)) throw new AuthRejection("missing", "no-token");
        caller = ANONYMOUS_CALLER;
      } else if (bearer.kind === "malformed") {
        throw new AuthRejection("invalid", "malformed");
      } else {
        caller = await authenticate(bearer.token);
      }
      req.contextValues.set(callerKey, caller);
    } catch (error) {
      if (!(error instanceof AuthRejection)) throw error;
      const fields = { procedure, protocol: req.contextValues.get(wireProtocolKey), reason: error.reason };
      if (error.failure === "unavailable") logger?.warn(fields, "refused a call: the OIDC issuer's keys cannot be read");
      else logger?.debug(fields, "refused a call");
      throw authError(error.failure, realm);
    }
    return next(req);
  };

  return {
    interceptors: [interceptor],
    load: () => keys.load(),
  };
}

/** An error for the log: its name, message and cause's message; the keys fetch never carries a token. */
function describe(error: unknown): { name: string; message: string; cause?: string } {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return { name: error.name, message: error.message, ...(cause !== undefined && { cause }) };
}
