import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { taskIdOf } from "./task-id-of.js";
import { wireProtocolKey } from "./wire-protocol.js";

/** Codes that say the server, not the caller, has a problem: logged as warnings. */
const SERVER_SIDE = new Set([Code.Internal, Code.Unknown, Code.Unavailable, Code.DataLoss, Code.DeadlineExceeded]);

/**
 * One log line per call, on every protocol: the procedure, the wire protocol, the outcome (a
 * Connect code name, "ok" on success), the duration, the task id when the call names one (GetTask,
 * CancelTask) or creates one (CreateTask), and the trace id (the active span's, else the caller's
 * traceparent). Streams are logged when they end. Sits in the shared interceptor chain.
 */
export function requestLog(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const protocol = req.contextValues.get(wireProtocolKey);
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const traceId = traceIdOf(req.header);
    const requestTaskId = taskIdOf(req.method.input, req.message);
    const write = (error: unknown, responseTaskId?: string): void => {
      // Anything but a ConnectError reaches the client as `internal` (hide-internal-errors.ts).
      const code = error === undefined ? undefined : error instanceof ConnectError ? error.code : Code.Internal;
      const fields = {
        rpc,
        protocol,
        code: code === undefined ? "ok" : Code[code],
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        taskId: requestTaskId ?? responseTaskId,
        traceId,
      };
      if (code !== undefined && SERVER_SIDE.has(code)) logger.warn(fields, "request");
      else logger.info(fields, "request");
    };
    let res;
    try {
      res = await next(req);
    } catch (error) {
      write(error);
      throw error;
    }
    if (!res.stream) {
      write(undefined, taskIdOf(req.method.output, res.message));
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (error) {
          write(error);
          throw error;
        }
        write(undefined);
      })(),
    };
  };
}

function traceIdOf(header: Headers): string | undefined {
  const span = trace.getActiveSpan();
  if (span !== undefined && isSpanContextValid(span.spanContext())) return span.spanContext().traceId;
  const parent = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(header.get("traceparent")?.trim() ?? "");
  return parent?.[1];
}
