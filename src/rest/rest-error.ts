import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";

/**
 * An error answered over REST, in Connect's error JSON shape: `{"code":"not_found","message":"..."}`
 * with the HTTP status Connect maps that code to, unless the HTTP layer itself needs a more exact
 * one (405, 413, 414, 415).
 */
export interface RestErrorBody {
  readonly code: string;
  readonly message: string;
}

export interface RestErrorReply {
  readonly status: number;
  readonly body: RestErrorBody;
  readonly headers: Headers;
}

/**
 * An HTTP-level refusal with its exact status. Not a ConnectError subclass on purpose: ConnectError's
 * `instanceof` matches any ConnectError, so a subclass could not be told apart.
 */
export class HttpRefusal extends Error {
  override readonly name = "HttpRefusal";
  constructor(
    readonly httpStatus: number,
    readonly code: Code,
    message: string,
    readonly extraHeaders: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The reply for any error; anything that is neither a ConnectError nor a refusal becomes a bare `internal`. */
export function restErrorReply(error: unknown): RestErrorReply {
  if (error instanceof HttpRefusal) {
    return {
      status: error.httpStatus,
      headers: new Headers(error.extraHeaders),
      body: { code: codeToString(error.code), message: error.message },
    };
  }
  const connectError = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal);
  return {
    status: codeToHttpStatus(connectError.code),
    headers: new Headers(connectError.metadata),
    body: { code: codeToString(connectError.code), message: connectError.rawMessage },
  };
}
