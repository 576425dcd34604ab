import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * The SharedKey scheme as the service verifies it (shared/notes/AZURE-BATCH.md §1 "SharedKey"):
 * the string to sign is built from the request as received (verb, the standard headers, the
 * `ocp-*` headers, the account and the raw path, the decoded query sorted by name), HMAC-SHA256'd
 * with the base64-decoded account key.
 */
export interface SignedRequest {
  method: string;
  /** The path exactly as sent, still percent-encoded (§1: "sign the raw path"). */
  rawPath: string;
  /** The query string as sent, without "?". */
  rawQuery: string;
  headers: IncomingHttpHeaders;
}

const STANDARD_HEADERS = [
  "content-encoding",
  "content-language",
  "content-length",
  "content-md5",
  "content-type",
  "date",
  "if-modified-since",
  "if-match",
  "if-none-match",
  "if-unmodified-since",
  "range",
] as const;

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  if (value === undefined) return "";
  return Array.isArray(value) ? value.join(",") : value;
}

export function stringToSign(account: string, request: SignedRequest): string {
  let result = `${request.method.toUpperCase()}\n`;
  for (const name of STANDARD_HEADERS) result += `${header(request.headers, name)}\n`;
  // §1 row 13: every ocp-* header, lower-cased, sorted, "name:value\n".
  const ocpNames = Object.keys(request.headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith("ocp-"))
    .sort();
  for (const name of ocpNames) result += `${name}:${header(request.headers, name)}\n`;
  // §1 row 14: "/account" + encoded path, then "\nname:decodedValue" per parameter sorted by name;
  // repeated names give their sorted values comma-joined.
  result += `/${account}${request.rawPath === "" ? "/" : request.rawPath}`;
  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(request.rawQuery)) {
    const values = params.get(name) ?? [];
    values.push(value);
    params.set(name, values);
  }
  for (const name of [...params.keys()].sort()) {
    result += `\n${name}:${(params.get(name) ?? []).sort().join(",")}`;
  }
  return result;
}

export function sign(accountKey: string, text: string): string {
  return createHmac("sha256", Buffer.from(accountKey, "base64")).update(text, "utf8").digest("base64");
}

export type SharedKeyVerdict =
  | { ok: true }
  | { ok: false; reason: "malformed" | "wrong-account" | "bad-signature" | "stale-date"; detail: string };

/** Checks `Authorization: SharedKey <account>:<signature>`; `maxClockSkewMs` is §1's 15 minutes. */
export function verifySharedKey(
  authorization: string,
  request: SignedRequest,
  account: { name: string; key: string },
  options: { now: Date; maxClockSkewMs: number },
): SharedKeyVerdict {
  const match = /^SharedKey ([^:\s]+):(\S+)$/.exec(authorization);
  if (match === null) {
    return { ok: false, reason: "malformed", detail: "The Authorization header is not of the form 'SharedKey <account>:<signature>'." };
  }
  const [, name, signature] = match as unknown as [string, string, string];
  if (name !== account.name) {
    return { ok: false, reason: "wrong-account", detail: `The account name '${name}' in the Authorization header does not match this account.` };
  }
  const ocpDate = header(request.headers, "ocp-date") || header(request.headers, "date");
  const sent = Date.parse(ocpDate);
  if (Number.isNaN(sent) || Math.abs(options.now.getTime() - sent) > options.maxClockSkewMs) {
    return { ok: false, reason: "stale-date", detail: "The request's ocp-date is missing or is not within 15 minutes of the server time." };
  }
  const expected = Buffer.from(sign(account.key, stringToSign(account.name, request)));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    // The service's exact detail for a MAC mismatch is unconfirmed (§1); this one names no secret.
    return { ok: false, reason: "bad-signature", detail: "The MAC signature found in the HTTP request is not the same as any computed signature." };
  }
  return { ok: true };
}
