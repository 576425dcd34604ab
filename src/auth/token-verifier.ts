import { decodeJwt, errors as jose, jwtVerify, type CryptoKey, type JWTPayload, type JWSHeaderParameters } from "jose";
import { isGuid, type OidcConfig } from "../config/auth.js";
import { AuthRejection } from "./auth-errors.js";
import { KeysUnavailableError, NoMatchingKeyError, type IssuerKeys } from "./issuer-keys.js";

const TENANT_PLACEHOLDER = "{tenantid}";

/** The claims of a token that passed every check, with its tenant when it has one. */
export interface VerifiedClaims {
  readonly payload: JWTPayload;
  /** The `tid` claim (a GUID), when the token carries one. */
  readonly tenant: string | undefined;
}

/**
 * Checks a bearer JWT: signature with the issuer's published keys, allowed algorithm, issuer
 * (exact, or the multi-tenant template with the token's own `tid`), audience, `exp` (required) and
 * `nbf` with the configured clock skew, and Entra's per-key issuer. Throws AuthRejection.
 */
export class TokenVerifier {
  private readonly requiredClaims: string[];

  constructor(
    private readonly config: OidcConfig,
    private readonly keys: IssuerKeys,
  ) {
    const needsTenant = config.issuerIsTemplate || config.allowedTenants !== "any" || config.isolation === "per-tenant";
    this.requiredClaims = needsTenant ? ["exp", "tid"] : ["exp"];
  }

  async verify(token: string): Promise<VerifiedClaims> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new AuthRejection("invalid", "malformed");
    }
    const claimedTenant = unverified.tid;
    let expectedIssuer = this.config.issuer;
    if (this.config.issuerIsTemplate) {
      // Microsoft's rule: the issuer is the template with the token's tid, and tid is a GUID.
      if (typeof claimedTenant !== "string" || !isGuid(claimedTenant)) throw new AuthRejection("invalid", "tid-not-a-guid");
      expectedIssuer = this.config.issuer.replaceAll(TENANT_PLACEHOLDER, claimedTenant);
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header: JWSHeaderParameters) => this.keyFor(header, expectedIssuer, claimedTenant), {
        issuer: expectedIssuer,
        audience: [...this.config.audiences],
        algorithms: [...this.config.algorithms],
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: this.requiredClaims,
      }));
    } catch (error) {
      throw rejectionFor(error);
    }

    const tenant = payload.tid;
    if (tenant !== undefined && (typeof tenant !== "string" || !isGuid(tenant.toLowerCase()))) {
      throw new AuthRejection("invalid", "tid-not-a-guid");
    }
    if (this.config.issuerIsTemplate && tenant !== claimedTenant) throw new AuthRejection("invalid", "tid-mismatch");
    return { payload, tenant: tenant?.toLowerCase() };
  }

  private async keyFor(header: JWSHeaderParameters, expectedIssuer: string, tenant: unknown): Promise<CryptoKey | Uint8Array> {
    const key = await this.keys.keyFor(header);
    // Entra publishes which issuer each key may sign for; jose ignores that member, so check it here.
    if (key.issuer !== undefined) {
      const keyIssuer = typeof tenant === "string" ? key.issuer.replaceAll(TENANT_PLACEHOLDER, tenant) : key.issuer;
      if (keyIssuer !== expectedIssuer) throw new AuthRejection("invalid", "key-issuer-mismatch");
    }
    return key.importFor(header.alg ?? "");
  }
}

function rejectionFor(error: unknown): AuthRejection {
  if (error instanceof AuthRejection) return error;
  if (error instanceof KeysUnavailableError) return new AuthRejection("unavailable", "keys-unavailable");
  if (error instanceof NoMatchingKeyError) return new AuthRejection("invalid", "no-matching-key");
  if (error instanceof jose.JWTClaimValidationFailed) return new AuthRejection("invalid", `claim-${error.claim}-${error.reason}`);
  if (error instanceof jose.JOSEError) return new AuthRejection("invalid", error.code);
  // A key that does not import, or anything else about the token: refuse it, never answer 500.
  return new AuthRejection("invalid", "unverifiable");
}
