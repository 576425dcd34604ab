import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The answers authentication gives, the same on every protocol. Each is a ConnectError whose
 * metadata carries the RFC 6750 `WWW-Authenticate` challenge: REST and Connect send it as a response
 * header, gRPC and gRPC-Web as a trailer. Messages are fixed and say nothing about which check
 * failed (that goes to the server's log, never the token itself).
 */
export type AuthFailure =
  /** No bearer token (or another scheme): 401 with a bare challenge (RFC 6750 §3.1: no error code). */
  | "missing"
  /** Malformed, bad signature, expired, not yet valid, wrong audience or issuer, unknown key: 401 invalid_token. */
  | "invalid"
  /** A valid token whose tenant or roles are not allowed here: 403 insufficient_scope. */
  | "forbidden"
  /** The issuer's keys cannot be had: 503; the client is not at fault. */
  | "unavailable";

export const RETRY_AFTER_SECONDS = 30;

export function authError(failure: AuthFailure, realm: string): ConnectError {
  switch (failure) {
    case "missing":
      return new ConnectError("authentication required: send an OAuth 2.0 bearer token", Code.Unauthenticated, {
        "www-authenticate": `Bearer realm="${realm}"`,
      });
    case "invalid":
      return new ConnectError("the bearer token is not valid", Code.Unauthenticated, {
        "www-authenticate": `Bearer realm="${realm}", error="invalid_token"`,
      });
    case "forbidden":
      return new ConnectError("the caller is not permitted to use this service", Code.PermissionDenied, {
        "www-authenticate": `Bearer realm="${realm}", error="insufficient_scope"`,
      });
    case "unavailable":
      return new ConnectError("sign-in is unavailable for now; retry later", Code.Unavailable, {
        "retry-after": String(RETRY_AFTER_SECONDS),
      });
  }
}

/** A failed check, with the reason kept for the server's log only. */
export class AuthRejection extends Error {
  override readonly name = "AuthRejection";
  constructor(
    readonly failure: AuthFailure,
    /** A short code for logs (a jose error code or our own), never token content. */
    readonly reason: string,
  ) {
    super(reason);
  }
}
