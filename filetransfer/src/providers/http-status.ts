import { ProviderError, type ProviderErrorKind } from "../provider-error.js";
import { redactUrl } from "../redact.js";

/** The ProviderError for an HTTP status that is not a success, by what retrying it would do. */
export function httpStatusError(method: string, url: URL, status: number, statusText: string | undefined): ProviderError {
  let kind: ProviderErrorKind;
  if (status === 404 || status === 410) kind = "not-found";
  else if (status === 401 || status === 403) kind = "access-denied";
  else if (status === 408 || status === 429 || status >= 500) kind = "transient";
  else kind = "invalid";
  return new ProviderError(kind, `${method} ${redactUrl(url)} answered ${status}${statusText ? ` ${statusText}` : ""}`);
}
