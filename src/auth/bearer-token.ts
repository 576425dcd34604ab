/** RFC 6750 §2.1 b64token, and a JWT's shape: three base64url parts. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Tokens longer than this are refused before any parsing (Entra tokens are 1-3 KiB). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export type BearerToken =
  | { readonly kind: "none" }
  | { readonly kind: "malformed" }
  | { readonly kind: "token"; readonly token: string };

/**
 * The bearer token of a request's `authorization` header (HTTP, or gRPC metadata). Another scheme
 * counts as no token; a Bearer value that is not a JWT, or two Authorization values, as malformed.
 */
export function bearerTokenOf(header: Headers): BearerToken {
  const value = header.get("authorization");
  if (value === null || value.trim() === "") return { kind: "none" };
  if (!/^bearer(\s|$)/i.test(value)) return { kind: "none" };
  const match = BEARER.exec(value);
  const token = match?.[1];
  if (token === undefined || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return { kind: "malformed" };
  return { kind: "token", token };
}
