import type { EdgeRequest, EdgeResponse } from "../server/one-port-listener.js";
import type { Readiness } from "./readiness.js";

export type PlainHttpHandler = (req: EdgeRequest, res: EdgeResponse) => void;

/**
 * `/healthz`: the process is alive and its event loop turns (200 whatever the dependencies).
 * `/readyz`: 200 when the store and Redis answer and shutdown has not begun; else 503 naming what
 * failed. Both are plain HTTP GET/HEAD on the API port, outside the RPC interceptors, so a
 * platform probe needs no token.
 */
export function createHttpProbes(readiness: Readiness): ReadonlyMap<string, PlainHttpHandler> {
  return new Map<string, PlainHttpHandler>([
    ["/healthz", (req, res) => answer(req, res, 200, { status: "alive" })],
    [
      "/readyz",
      (req, res) => {
        if (!isRead(req)) {
          answer(req, res, 405, { error: "use GET or HEAD" });
          return;
        }
        readiness.check().then(
          (report) =>
            answer(req, res, report.ready ? 200 : 503, {
              status: report.ready ? "ready" : report.draining ? "draining" : "not ready",
              ...(report.failures.length > 0 ? { failed: report.failures } : {}),
            }),
          () => answer(req, res, 503, { status: "not ready" }),
        );
      },
    ],
  ]);
}

function isRead(req: EdgeRequest): boolean {
  return req.method === "GET" || req.method === "HEAD";
}

function answer(req: EdgeRequest, res: EdgeResponse, status: number, body: object): void {
  if (status !== 405 && !isRead(req)) {
    status = 405;
    body = { error: "use GET or HEAD" };
  }
  const json = JSON.stringify(body);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(json)),
    "cache-control": "no-store",
  };
  if (status === 405) headers.allow = "GET, HEAD";
  (res as import("node:http").ServerResponse).writeHead(status, headers);
  if (req.method === "HEAD") res.end();
  else res.end(json);
}
