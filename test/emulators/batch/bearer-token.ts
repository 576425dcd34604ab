/**
 * Microsoft Entra ID bearer tokens (shared/notes/AZURE-BATCH.md §1 "Entra ID"). The emulator has
 * no Entra keys, so it checks what a client can get wrong: the token is a JWT, it is meant for
 * Batch (audience `https://batch.core.windows.net/`; the SDK's default adapter scope asks for
 * management.azure.com instead, which the service refuses) and it has not expired. A test that
 * runs a local OIDC issuer can add a signature check through `verify`.
 */
export const BATCH_AUDIENCES = ["https://batch.core.windows.net/", "https://batch.core.windows.net"] as const;

export interface BearerOptions {
  /** Audiences accepted; default BATCH_AUDIENCES. */
  audiences?: readonly string[];
  /** An extra check (signature, issuer); return a reason to refuse, or undefined to accept. */
  verify?: (token: string, claims: Record<string, unknown>) => string | undefined;
}

/** Why a token was refused: ARM answers each with its own code (arm-endpoint.ts); the data plane with one. */
export type BearerRefusal = "malformed" | "audience" | "expired" | "not-yet-valid" | "verify";
export type BearerVerdict = { ok: true } | { ok: false; reason: BearerRefusal; detail: string };

export function verifyBearer(token: string, options: BearerOptions, now: Date): BearerVerdict {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part))) {
    return { ok: false, reason: "malformed", detail: "The access token is not a JSON Web Token." };
  }
  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    claims = parsed as Record<string, unknown>;
  } catch {
    return { ok: false, reason: "malformed", detail: "The access token's payload is not a JSON object." };
  }
  const audiences = options.audiences ?? BATCH_AUDIENCES;
  const aud = claims.aud;
  const tokenAudiences = Array.isArray(aud) ? aud : [aud];
  if (!tokenAudiences.some((value) => typeof value === "string" && audiences.includes(value))) {
    return { ok: false, reason: "audience", detail: `The access token has an invalid audience '${String(aud)}'; Batch expects ${audiences[0]}.` };
  }
  const exp = claims.exp;
  if (typeof exp !== "number" || exp * 1000 <= now.getTime()) {
    return { ok: false, reason: "expired", detail: "The access token has expired or carries no expiry." };
  }
  const nbf = claims.nbf;
  if (typeof nbf === "number" && nbf * 1000 > now.getTime() + 5 * 60_000) {
    return { ok: false, reason: "not-yet-valid", detail: "The access token is not valid yet." };
  }
  const refusal = options.verify?.(token, claims);
  return refusal === undefined ? { ok: true } : { ok: false, reason: "verify", detail: refusal };
}
