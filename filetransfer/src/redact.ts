/**
 * Keeps secrets out of every message filetransfer prints or reports. URLs lose their user info and
 * the values of their query parameters (SAS signatures, presigned-URL credentials); free text is
 * scrubbed of any URL it contains, of credential-looking tokens, and of every secret the caller
 * registered (the query values and passwords of the manifest's own URLs).
 */
const REDACTED = "REDACTED";

export function redactUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : new URL(url.href);
  } catch {
    return redactText(String(url));
  }
  if (parsed.username) parsed.username = REDACTED;
  if (parsed.password) parsed.password = REDACTED;
  if (parsed.search) {
    const keys = [...parsed.searchParams.keys()];
    parsed.search = keys.map((key) => `${encodeURIComponent(key)}=${REDACTED}`).join("&");
  }
  parsed.hash = "";
  return parsed.href;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
const CREDENTIAL_PATTERNS: readonly RegExp[] = [
  /\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)[^\r\n"',}]+/gi,
  /\b(Bearer|SharedKey|Basic)(\s+)[A-Za-z0-9._~+/=:-]+/g,
  /\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|accountkey|sharedaccesssignature|password|client_secret|access_token)(=)(?!REDACTED)[^&\s;:,)"']+/gi,
];

export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  out = out.replace(URL_IN_TEXT, (match) => {
    const trailing = /[.,:;)\]]+$/.exec(match)?.[0] ?? "";
    return redactUrl(match.slice(0, match.length - trailing.length)) + trailing;
  });
  for (const pattern of CREDENTIAL_PATTERNS) out = out.replace(pattern, `$1$2${REDACTED}`);
  return out;
}

/** The secret parts of a URL, to register with a Redactor so they never appear anywhere. */
export function secretsOfUrl(url: string): string[] {
  const secrets: string[] = [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return secrets;
  }
  if (parsed.password) secrets.push(parsed.password, decodeURIComponent(parsed.password));
  for (const pair of parsed.search.slice(1).split("&")) {
    const raw = pair.slice(pair.indexOf("=") + 1);
    if (!pair.includes("=") || raw.length < 8) continue;
    const forms = new Set([raw]);
    for (const decode of [(v: string) => decodeURIComponent(v), (v: string) => decodeURIComponent(v.replace(/\+/g, " "))]) {
      try {
        const value = decode(raw);
        forms.add(value).add(encodeURIComponent(value));
      } catch {
        // not valid percent-encoding: the raw form is registered already
      }
    }
    secrets.push(...forms);
  }
  return secrets;
}

/** Redacts with the secrets of one run; every message leaving the engine goes through it. */
export class Redactor {
  readonly #secrets = new Set<string>();

  addUrl(url: string | undefined): void {
    if (url) for (const secret of secretsOfUrl(url)) this.#secrets.add(secret);
  }

  addSecret(secret: string): void {
    if (secret) this.#secrets.add(secret);
  }

  text(text: string): string {
    return redactText(text, [...this.#secrets].sort((a, b) => b.length - a.length));
  }

  url(url: URL | string): string {
    return redactUrl(url);
  }

  error(error: unknown): string {
    return this.text(describeError(error));
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || error.name;
    return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(error);
}
