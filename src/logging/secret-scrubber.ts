/**
 * The last line of defence against a credential in a log line: applied to every serialized line,
 * whatever part of the server wrote it and whatever field it sits in. The redact paths of
 * logger.ts remove known fields; this removes credentials by shape (a SAS signature in a URL, a
 * bearer token, a password in a URL or connection string, a JWT) and by value (the secret
 * settings this process was given, Key Vault values included once they are in its environment).
 */
const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // Signatures and tokens in query strings: Azure SAS (sig), S3 and GCS presigned URLs, OAuth.
  [/([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|access_token|id_token|refresh_token|token|code|client_secret|password|secret)=)[^&#"\s\\]+/gi, "$1[redacted]"],
  // user:password@ in any URL (postgres://, redis://, https://).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s"\\]*:[^/@\s"\\]*@/gi, "$1[redacted]@"],
  // Authorization values.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, "$1 [redacted]"],
  // Connection-string secrets (storage, Service Bus, SQL).
  [/\b(AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)=[^;"\s\\]+/gi, "$1=[redacted]"],
  // A JWT anywhere.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, "[redacted-jwt]"],
];

/** Names of settings whose whole value is a secret. */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|ACCOUNT_KEY|ACCESS_KEY|PRIVATE_KEY|CONNECTION_STRING|SAS)/i;
/** Values shorter than this are not scrubbed by value (they would match ordinary words). */
const MIN_SECRET_LENGTH = 6;
const REFRESH_MS = 5000;

export type SecretScrubber = (line: string) => string;

/**
 * `env` is read again at most every 5 s, so secrets that arrive later (a Key Vault refresh writes
 * into the same object) are scrubbed too.
 */
export function createSecretScrubber(env: Readonly<Record<string, string | undefined>>): SecretScrubber {
  let values: string[] = [];
  let readAt = -Infinity;
  const secretValues = (): string[] => {
    const now = Date.now();
    if (now - readAt > REFRESH_MS) {
      values = secretValuesOf(env);
      readAt = now;
    }
    return values;
  };
  return (line) => {
    let out = line;
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    for (const value of secretValues()) if (out.includes(value)) out = out.split(value).join("[redacted]");
    return out;
  };
}

/** The secret values in an environment: secret-named settings, and passwords inside URL settings. */
export function secretValuesOf(env: Readonly<Record<string, string | undefined>>): string[] {
  const found = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === "") continue;
    if (SECRET_NAME.test(name) && value.length >= MIN_SECRET_LENGTH) found.add(value);
    if (value.includes("://")) {
      try {
        const url = new URL(value);
        const password = decodeURIComponent(url.password);
        if (password.length >= MIN_SECRET_LENGTH) {
          found.add(password);
          found.add(url.password);
        }
      } catch {
        // Not a URL.
      }
    }
  }
  // JSON escapes quotes and backslashes; look for the escaped form too.
  for (const value of [...found]) found.add(JSON.stringify(value).slice(1, -1));
  return [...found].sort((a, b) => b.length - a.length);
}
