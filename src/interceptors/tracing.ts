import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { instruments, tracer } from "../telemetry/instruments.js";
import { taskIdOf } from "./task-id-of.js";
import { wireProtocolKey } from "./wire-protocol.js";

const headerGetter = {
  keys: (carrier: Headers) => {
    const names: string[] = [];
    carrier.forEach((_value, name) => names.push(name));
    return names;
  },
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
};

/**
 * A server span per call on every protocol (continuing the caller's W3C traceparent), active while
 * the handler runs so the store, the queue and the logs see it; and the request metrics
 * (tes.requests, tes.request.duration by rpc, protocol and code). Outermost of the app's
 * interceptors, so the request log inside it carries the trace id.
 */
export function tracing(): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const protocol = req.contextValues.get(wireProtocolKey);
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    const span = tracer().startSpan(
      rpc,
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": "tes", "rpc.service": req.service.typeName, "rpc.method": req.method.name, "tes.protocol": protocol },
      },
      parent,
    );
    const finish = (error: unknown, taskId?: string): void => {
      const code = error === undefined ? undefined : error instanceof ConnectError ? error.code : Code.Internal;
      const codeName = code === undefined ? "ok" : Code[code]!;
      if (taskId !== undefined) span.setAttribute("tes.task_id", taskId);
      span.setAttribute("rpc.connect_rpc.error_code", codeName);
      if (code !== undefined && code !== Code.NotFound && code !== Code.InvalidArgument && code !== Code.Unauthenticated && code !== Code.PermissionDenied) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: codeName });
      }
      span.end();
      const attributes = { rpc, protocol, code: codeName };
      instruments().requests.add(1, attributes);
      instruments().requestDuration.record((performance.now() - started) / 1000, attributes);
    };
    const active = trace.setSpan(parent, span);
    let res;
    try {
      res = await context.with(active, () => next(req));
    } catch (error) {
      finish(error, taskIdOf(req.method.input, req.message));
      throw error;
    }
    if (!res.stream) {
      finish(undefined, taskIdOf(req.method.input, req.message) ?? taskIdOf(req.method.output, res.message));
      return res;
    }
    return { ...res, message: endWith(res.message, finish, span) };
  };
}

async function* endWith<T>(messages: AsyncIterable<T>, finish: (error: unknown) => void, _span: Span): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    finish(error);
    throw error;
  }
  finish(undefined);
}
