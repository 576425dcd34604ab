/**
 * The URL of an entry under a directory URL: `relativePath` ("a/b c.txt") is appended to the path
 * with exactly one "/" between, each segment percent-encoded; the query (a SAS, say) is kept.
 */
export function childUrl(directoryUrl: URL, relativePath: string): URL {
  const child = new URL(directoryUrl.href);
  const segments = relativePath.split("/").filter((segment) => segment.length > 0);
  const base = child.pathname.endsWith("/") ? child.pathname : `${child.pathname}/`;
  child.pathname = base + segments.map(encodePathSegment).join("/");
  return child;
}

function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
