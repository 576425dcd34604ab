import { cors as connectCors } from "@connectrpc/connect";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { CorsConfig } from "../config/server.js";

const ALLOWED_METHODS = [...new Set([...connectCors.allowedMethods, "GET", "POST", "HEAD"])].join(", ");
// Connect's and gRPC-Web's request headers, plus Authorization for bearer tokens.
const ALLOWED_HEADERS = [...new Set([...connectCors.allowedHeaders, "Authorization"])].join(", ");
// WWW-Authenticate and Retry-After tell a browser client why a call was refused and when to retry.
const EXPOSED_HEADERS = [...new Set([...connectCors.exposedHeaders, "WWW-Authenticate", "Retry-After"])].join(", ");

export type CorsVerdict = "answered" | "continue";

/**
 * CORS for browsers on the configured origins: answers preflights, and marks actual responses
 * as readable by the calling origin, exposing the Connect and gRPC-Web status headers. A request
 * from an origin not on the list gets no CORS headers, so the browser keeps the answer from it.
 */
export function createCorsPolicy(config: CorsConfig) {
  const any = config.allowedOrigins.includes("*");
  const origins = new Set(config.allowedOrigins);
  const allows = (origin: string) => any || origins.has(origin);

  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): CorsVerdict => {
    const origin = req.headers.origin;
    if (origin === undefined || config.allowedOrigins.length === 0) return "continue";
    res.setHeader("Vary", "Origin");
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!allows(origin)) {
      if (!preflight) return "continue";
      (res as ServerResponse).writeHead(403, { "content-length": "0" });
      res.end();
      return "answered";
    }
    res.setHeader("Access-Control-Allow-Origin", any ? "*" : origin);
    if (!preflight) {
      res.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS);
      return "continue";
    }
    (res as ServerResponse).writeHead(204, {
      "access-control-allow-methods": ALLOWED_METHODS,
      "access-control-allow-headers": ALLOWED_HEADERS,
      "access-control-max-age": String(config.maxAgeSeconds),
      "content-length": "0",
    });
    res.end();
    return "answered";
  };
}
