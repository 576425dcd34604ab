/** A JWT's shape: three base64url parts (a subset of RFC 6750's b64token). */
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
  // Plain string work, not one regex over the whole value: this runs on every call.
  if (value.slice(0, 6).toLowerCase() !== "bearer") return { kind: "none" };
  if (value.length > 6 && value[6] !== " ") return { kind: "none" };
  const token = value.slice(7).trim();
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return { kind: "malformed" };
  return { kind: "token", token };
}
