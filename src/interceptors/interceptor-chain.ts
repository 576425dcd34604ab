import {
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { create, type DescMessage, type DescMethodUnary, type MessageShape } from "@bufbuild/protobuf";

/**
 * The one interceptor chain of the API. The server hands the same array to Connect's router
 * (gRPC, gRPC-Web, Connect) and to the REST transcoder, which runs each REST call through
 * `invokeUnary` below, so auth, logging and limits see every call exactly once whatever the
 * protocol. Order follows Connect: the first interceptor is the outermost layer.
 */
export type { Interceptor } from "@connectrpc/connect";

type AnyFn = Parameters<Interceptor>[0];

/** Wraps `fn` with the interceptors, the first one outermost (as Connect's router does). */
export function applyInterceptors(fn: AnyFn, interceptors: readonly Interceptor[]): AnyFn {
  return interceptors.reduceRight<AnyFn>((next, interceptor) => interceptor(next), fn);
}

/** A unary implementation as a ServiceImpl method has it. */
export type UnaryImplFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => unknown;

export interface UnaryInvocation<I extends DescMessage, O extends DescMessage> {
  readonly method: DescMethodUnary<I, O>;
  readonly impl: UnaryImplFn<I, O>;
  readonly input: MessageShape<I>;
  /** Name given to handlers as `context.protocolName`. */
  readonly protocolName: string;
  readonly requestMethod: string;
  readonly url: string;
  readonly requestHeader: Headers;
  readonly contextValues: ContextValues;
  readonly signal: AbortSignal;
  readonly interceptors: readonly Interceptor[];
}

export interface UnaryResult<O extends DescMessage> {
  readonly message: MessageShape<O>;
  readonly header: Headers;
  readonly trailer: Headers;
}

/**
 * Calls a unary implementation in-process exactly as Connect's router would: through the
 * interceptors, with a HandlerContext whose values and headers are those the interceptors pass on.
 */
export async function invokeUnary<I extends DescMessage, O extends DescMessage>(
  call: UnaryInvocation<I, O>,
): Promise<UnaryResult<O>> {
  const { method } = call;
  const innermost: AnyFn = async (req) => {
    // The context Connect's createHandlerContext would build, without what an in-process call
    // has no use for: a deadline signal (REST sends no timeout), a signal linked to the request's
    // (the request's own is the call's: it aborts when the client goes away) and a copy of the
    // request headers (built for this call alone). Node's AbortControllers and their listeners
    // are dear: without them a REST echo costs 53 µs of CPU instead of 85, GetTask 87 instead of
    // 121 (npm run bench -- --only api). Every field is HandlerContext's: a new one fails to compile.
    const context: HandlerContext = {
      service: method.parent,
      method,
      protocolName: call.protocolName,
      requestMethod: req.requestMethod,
      url: req.url,
      signal: req.signal,
      timeoutMs: () => undefined,
      requestHeader: req.header,
      responseHeader: new Headers(),
      responseTrailer: new Headers(),
      values: req.contextValues,
    };
    const output = await call.impl(req.message as MessageShape<I>, context);
    const message = isMessageOf(output, method.output) ? output : create(method.output, output as never);
    const response: UnaryResponse<I, O> = {
      stream: false,
      service: method.parent,
      method,
      message,
      header: context.responseHeader,
      trailer: context.responseTrailer,
    };
    return response as unknown as UnaryResponse;
  };
  const request: UnaryRequest<I, O> = {
    stream: false,
    service: method.parent,
    method,
    message: call.input,
    requestMethod: call.requestMethod,
    url: call.url,
    signal: call.signal,
    header: call.requestHeader,
    contextValues: call.contextValues,
  };
  const response = await applyInterceptors(innermost, call.interceptors)(request as unknown as UnaryRequest);
  if (response.stream) throw new Error(`interceptor turned unary ${method.name} into a stream`);
  return { message: response.message as MessageShape<O>, header: response.header, trailer: response.trailer };
}

function isMessageOf<O extends DescMessage>(value: unknown, schema: O): value is MessageShape<O> {
  return typeof value === "object" && value !== null && (value as { $typeName?: unknown }).$typeName === schema.typeName;
}
