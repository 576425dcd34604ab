import { Code, ConnectError } from "@connectrpc/connect";
import type { RestResponse } from "./rest-handler.js";

/**
 * A REST call's abort signal, which aborts (Canceled) when the client goes away before its answer
 * is sent. It is made on first use only: most calls never look at it, and an AbortController per
 * call was a fifth of a REST echo's CPU (see invokeUnary). A signal first asked for after the
 * client left is made already aborted.
 */
export function clientGoneSignal(res: RestResponse): () => AbortSignal {
  let controller: AbortController | undefined;
  let gone: ConnectError | undefined;
  res.once("close", () => {
    if (res.writableFinished) return;
    gone = new ConnectError("the client went away", Code.Canceled);
    controller?.abort(gone);
  });
  return () => {
    if (controller === undefined) {
      controller = new AbortController();
      if (gone !== undefined) controller.abort(gone);
    }
    return controller.signal;
  };
}
