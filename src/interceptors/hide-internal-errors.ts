import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** Told about every error that was hidden from the client, to log it with its stack. */
export type InternalErrorReporter = (error: unknown, procedure: string) => void;

/**
 * Replaces any error that is not a ConnectError (a bug, a driver error carrying a file path or a
 * SQL text) with a plain `internal` error, so no stack, path or library name reaches a client.
 * Errors a handler raises on purpose (ConnectError) pass unchanged. Sits outermost in the chain.
 */
export function hideInternalErrors(report: InternalErrorReporter = () => {}): Interceptor {
  const hide = (error: unknown, procedure: string): unknown => {
    if (error instanceof ConnectError) return error;
    report(error, procedure);
    return new ConnectError("internal error", Code.Internal);
  };
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    let res;
    try {
      res = await next(req);
    } catch (error) {
      throw hide(error, procedure);
    }
    if (!res.stream) return res;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (error) {
          throw hide(error, procedure);
        }
      })(),
    };
  };
}
