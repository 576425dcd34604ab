import type { DescMethodUnary, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { invokeUnary, type UnaryImplFn } from "../interceptors/interceptor-chain.js";
import { contextValuesFor } from "../interceptors/wire-protocol.js";
import { clientGoneSignal } from "./client-gone-signal.js";
import { RouteTable, routesOf } from "./http-routes.js";
import { readTesJson } from "./json-reader.js";
import { tesJsonBody } from "./json-writer.js";
import { isJsonContentType, readBody } from "./read-body.js";
import { requestJson } from "./request-json.js";
import { HttpRefusal, restErrorReply } from "./rest-error.js";

export type RestRequest = IncomingMessage | Http2ServerRequest;
export type RestResponse = ServerResponse | Http2ServerResponse;

/** A service and its implementation, keyed by the method's localName as in a ServiceImpl. */
export interface RestService {
  readonly service: DescService;
  readonly impl: Readonly<Record<string, unknown>>;
}

export interface RestHandlerOptions {
  readonly services: readonly RestService[];
  /** The same chain Connect's router runs; every REST call goes through it. */
  readonly interceptors: readonly Interceptor[];
  readonly maxRequestBodyBytes: number;
}

/**
 * The REST/JSON transcoder: routes come from the `google.api.http` options in the descriptors
 * (none is written by hand), each call runs the same implementation through the same
 * interceptors as gRPC and Connect, and answers are TES JSON.
 */
export function createRestHandler(options: RestHandlerOptions): (req: RestRequest, res: RestResponse) => void {
  const table = new RouteTable(routesOf(options.services.map((s) => s.service)));
  const impls = new Map<DescMethodUnary, UnaryImplFn<never, never>>();
  for (const { service, impl } of options.services) {
    for (const method of service.methods) {
      const fn = impl[method.localName];
      if (method.methodKind === "unary" && typeof fn === "function") {
        impls.set(method as DescMethodUnary, (fn as UnaryImplFn<never, never>).bind(impl));
      }
    }
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => sendError(req, res, error));
  };

  async function handle(req: RestRequest, res: RestResponse): Promise<void> {
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const httpMethod = req.method ?? "GET";
    const match = table.match(httpMethod, path);
    if (match.kind === "no-route") {
      throw new HttpRefusal(404, Code.NotFound, `no API route for ${httpMethod} ${truncate(path)}`);
    }
    if (match.kind === "wrong-method") {
      const allow = match.allowed.join(", ");
      throw new HttpRefusal(405, Code.Unimplemented, `${httpMethod} is not allowed here; use ${allow}`, { allow });
    }
    const { route, bindings } = match;
    let body: unknown;
    if (route.body !== "") {
      const bytes = await readBody(req, options.maxRequestBodyBytes);
      if (bytes.length > 0 && !route.bodySetsNothing) {
        const encoding = req.headers["content-encoding"];
        if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
          throw new HttpRefusal(415, Code.InvalidArgument, `the request body must not be encoded, got content-encoding ${truncate(encoding)}`);
        }
        const contentType = req.headers["content-type"];
        if (!isJsonContentType(contentType)) {
          throw new HttpRefusal(415, Code.InvalidArgument, `the request body must be application/json, got ${contentType === undefined ? "no content-type" : truncate(contentType)}`);
        }
        try {
          body = JSON.parse(bytes.toString("utf8"));
        } catch {
          throw new ConnectError("the request body is not valid JSON", Code.InvalidArgument);
        }
      }
    }
    const query = new URLSearchParams(queryAt === -1 ? "" : url.slice(queryAt + 1));
    const input = readTesJson(route.method.input, requestJson(route, bindings, query, body));
    const impl = impls.get(route.method);
    if (impl === undefined) {
      throw new ConnectError(`${route.method.parent.typeName}.${route.method.name} is not implemented`, Code.Unimplemented);
    }
    const signal = clientGoneSignal(res);
    const result = await invokeUnary({
      method: route.method,
      impl,
      input: input as never,
      protocolName: "rest",
      requestMethod: httpMethod,
      url: absoluteUrl(req, url),
      requestHeader: requestHeaders(req),
      contextValues: contextValuesFor("rest"),
      signal,
      interceptors: options.interceptors,
    });
    const json = tesJsonBody(route.method.output, result.message);
    const headers = responseHeaders(req, result.header);
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(json));
    // Task states change under the client; no cache or proxy should answer for the server.
    headers["cache-control"] = "no-store";
    writeReply(res, 200, headers, httpMethod === "HEAD" ? undefined : json);
  }
}

function sendError(req: RestRequest, res: RestResponse, error: unknown): void {
  try {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const reply = restErrorReply(error);
    const json = JSON.stringify(reply.body);
    const headers = responseHeaders(req, reply.headers);
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(json));
    headers["cache-control"] = "no-store";
    writeReply(res, reply.status, headers, req.method === "HEAD" ? undefined : json);
  } catch {
    // Nothing sensible is left to tell this client; never let one request take the server down.
    res.destroy();
  }
}

function writeReply(res: RestResponse, status: number, headers: Record<string, string>, body: string | undefined): void {
  // Both response classes take the same arguments; TypeScript cannot call through their union.
  (res as ServerResponse).writeHead(status, headers);
  (res as ServerResponse).end(body);
}

/** The request's headers without HTTP/2 pseudo-headers and the sensitive-headers symbol. */
export function requestHeaders(req: RestRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}

const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

/** Headers set by interceptors or handlers; connection-specific ones only on HTTP/1.x, where they are legal. */
function responseHeaders(req: RestRequest, from: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  const http1 = req.httpVersionMajor === 1;
  from.forEach((value, name) => {
    if (name === "content-type" || name === "content-length") return;
    if (CONNECTION_SPECIFIC.has(name) && !http1) return;
    out[name] = value;
  });
  return out;
}

/** The request's URL as interceptors see it for Connect calls: scheme, authority, path and query. */
function absoluteUrl(req: RestRequest, pathAndQuery: string): string {
  const encrypted = (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
  const authority = req.headers[":authority"] ?? req.headers.host ?? "localhost";
  return `${encrypted ? "https" : "http"}://${String(authority)}${pathAndQuery}`;
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
