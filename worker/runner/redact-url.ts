/**
 * A URL as it may appear in logs and task logs: no user, no password, no query (SAS tokens and
 * presigned signatures live there). Text that is not a URL is returned unchanged.
 */
export function redactUrl(raw: string, options: { markQuery?: boolean } = {}): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  const hadQuery = url.search !== "";
  url.username = "";
  url.password = "";
  url.search = "";
  url.hash = "";
  return hadQuery && options.markQuery !== false ? `${url.toString()}?…` : url.toString();
}

/** Every URL inside a message, redacted: providers' errors may quote the URL they failed on. */
export function redactUrlsIn(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (match) => redactUrl(match));
}
