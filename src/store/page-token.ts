import { createHash } from "node:crypto";
import type { ListQuery, Scope } from "./task-store.js";
import { InvalidPageTokenError } from "./store-errors.js";

/**
 * The opaque next_page_token: base64url of a small JSON holding the last id of the page (the keyset
 * cursor, since lists run newest first on id DESC) and a fingerprint of the filters and the scope it
 * was issued for. A token reused with other filters, by another owner, or altered, is refused with
 * InvalidPageTokenError; it is never trusted beyond "continue after this id, within my own scope".
 */
const TOKEN_VERSION = 1;
/** Generous: a real token is about 100 characters. Anything longer is not ours. */
const MAX_TOKEN_LENGTH = 512;
const MAX_ID_LENGTH = 128;

interface TokenBody {
  v: number;
  /** The id of the last task on the previous page. */
  a: string;
  /** Fingerprint of the filters and scope. */
  f: string;
}

export type PageFilter = Pick<ListQuery, "namePrefix" | "state" | "tags">;

export function encodePageToken(lastId: string, filter: PageFilter, scope: Scope): string {
  const body: TokenBody = { v: TOKEN_VERSION, a: lastId, f: fingerprint(filter, scope) };
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64url");
}

/** The id to continue after (undefined for the first page), or InvalidPageTokenError. */
export function decodePageToken(token: string | undefined, filter: PageFilter, scope: Scope): string | undefined {
  if (token === undefined || token === "") return undefined;
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw new InvalidPageTokenError("page_token is not a token this server issued");
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidPageTokenError("page_token is not a token this server issued");
  }
  if (!isTokenBody(body)) throw new InvalidPageTokenError("page_token is not a token this server issued");
  if (body.f !== fingerprint(filter, scope)) {
    throw new InvalidPageTokenError(
      "page_token was issued for different filters (name_prefix, state, tag_key, tag_value); repeat the first request's filters or start without a page_token",
    );
  }
  return body.a;
}

function isTokenBody(value: unknown): value is TokenBody {
  if (typeof value !== "object" || value === null) return false;
  const body = value as Record<string, unknown>;
  return (
    body.v === TOKEN_VERSION &&
    typeof body.a === "string" &&
    body.a.length > 0 &&
    body.a.length <= MAX_ID_LENGTH &&
    typeof body.f === "string"
  );
}

/** Tag filters are ANDed, so their order does not change the result and does not change the fingerprint. */
function fingerprint(filter: PageFilter, scope: Scope): string {
  const tags = [...(filter.tags ?? [])].map(([key, value]) => [key, value]).sort(compareTag);
  const canonical = JSON.stringify([
    scope.all ? null : scope.owner,
    filter.namePrefix ?? "",
    filter.state ?? null,
    tags,
  ]);
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 16);
}

function compareTag(a: string[], b: string[]): number {
  const [ka = "", va = ""] = a;
  const [kb = "", vb = ""] = b;
  if (ka !== kb) return ka < kb ? -1 : 1;
  if (va !== vb) return va < vb ? -1 : 1;
  return 0;
}
