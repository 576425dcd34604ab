import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import net, { type AddressInfo, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { EdgeLimits } from "../config/server.js";

export type EdgeRequest = IncomingMessage | Http2ServerRequest;
export type EdgeResponse = ServerResponse | Http2ServerResponse;
export type EdgeHandler = (req: EdgeRequest, res: EdgeResponse) => void;

export interface OnePortListenerOptions {
  readonly handler: EdgeHandler;
  readonly limits: EdgeLimits;
  /** PEM certificate and key: TLS with ALPN (h2, http/1.1). Absent: plaintext HTTP/1.1 and h2c. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

export interface OnePortListener {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
  close(graceMs: number): Promise<void>;
  address(): AddressInfo | undefined;
}

/** How often the HTTP/1.1 server checks headers and request timeouts (Node's default is 30 s). */
function checkingInterval(limits: EdgeLimits): number {
  return Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4)));
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * One TCP port for HTTP/1.1 and HTTP/2. Plaintext: Node cannot serve both from one server
 * (allowHTTP1 needs TLS), so a TCP listener reads the first bytes and hands the socket to an
 * HTTP/2 server when they are the h2 preface, else to an HTTP/1.1 server. TLS: ALPN chooses.
 * Every limit and timeout of `limits` applies to both versions.
 */
export function createOnePortListener(options: OnePortListenerOptions): OnePortListener {
  const { limits } = options;
  const http1 = trackHttp1Requests();
  const handler = http1.wrap(withRequestDeadline(options.handler, limits.requestTimeoutMs));
  const h2Settings = { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes };
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  let front: net.Server;
  let h1: http.Server | undefined;
  let h2: http2.Http2Server | http2.Http2SecureServer;

  if (options.tls !== undefined) {
    const secure = http2.createSecureServer({
      cert: options.tls.cert,
      key: options.tls.key,
      allowHTTP1: true,
      // A client that stalls in the TLS handshake is held no longer than one stalling in its headers.
      handshakeTimeout: limits.headersTimeoutMs,
      settings: h2Settings,
      maxSessionInvalidFrames: 100,
    });
    // The HTTP/1.1 side of a secure HTTP/2 server reads these like an http.Server does.
    Object.assign(secure, {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      connectionsCheckingInterval: checkingInterval(limits),
    });

    secure.on("request", handler);
    secure.on("connection", track);
    secure.on("clientError", answerUnparsable(limits));
    h2 = secure;
    front = secure;
  } else {
    h1 = http.createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: checkingInterval(limits),
      },
      handler,
    );
    h1.keepAliveTimeout = limits.idleTimeoutMs;
    h1.on("clientError", answerUnparsable(limits));
    // A client that stops reading its response (or sending mid-request) holds nothing for longer.
    h1.setTimeout(limits.requestTimeoutMs);
    h2 = http2.createServer({ settings: h2Settings, maxSessionInvalidFrames: 100 }, handler);
    const h1Server = h1;
    const h2Server = h2;
    front = net.createServer({ noDelay: true }, (socket) => {
      track(socket);
      sniff(socket, limits.headersTimeoutMs, (isH2) => {
        if (isH2) {
          // The HTTP/2 session reads the bytes put back into the socket itself (on the next tick);
          // resuming here would let them flow away before it does.
          h2Server.emit("connection", socket);
        } else {
          h1Server.emit("connection", socket);
          socket.resume();
        }
      });
    });
  }
  front.maxConnections = limits.maxConnections;
  h2.setTimeout(limits.idleTimeoutMs);
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  return {
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        front.once("error", reject);
        front.listen(port, host, () => {
          front.off("error", reject);
          resolve();
        });
      });
      // The HTTP/1.1 server never listens itself (it gets its sockets from the front listener), so
      // start its connection tracking by hand: without it, headersTimeout and requestTimeout are
      // never checked.
      h1?.emit("listening");
      return front.address() as AddressInfo;
    },
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      http1.closeIdle();
      for (const session of sessions) session.close();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      // Stops the HTTP/1.1 server's connection checker; it has no handle to close.
      h1?.close(() => {});
      await closed;
    },
    address() {
      const address = front.address();
      return address !== null && typeof address === "object" ? address : undefined;
    },
  };
}

/**
 * Which HTTP/1.1 connections are between requests, so that close() can end those at once and
 * the busy ones right after their response (Node's closeIdleConnections does not cover the
 * HTTP/1.1 side of a secure HTTP/2 server).
 */
function trackHttp1Requests() {
  const active = new Map<Socket, number>();
  const known = new Set<Socket>();
  let closing = false;
  return {
    wrap(handler: EdgeHandler): EdgeHandler {
      return (req, res) => {
        if (req.httpVersionMajor === 1) {
          const socket = req.socket;
          if (!known.has(socket)) {
            known.add(socket);
            socket.once("close", () => {
              known.delete(socket);
              active.delete(socket);
            });
          }
          active.set(socket, (active.get(socket) ?? 0) + 1);
          if (closing) res.setHeader("Connection", "close");
          res.once("close", () => {
            const left = (active.get(socket) ?? 1) - 1;
            active.set(socket, left);
            if (closing && left === 0) socket.end();
          });
        }
        handler(req, res);
      };
    },
    /** From now on, end every HTTP/1.1 connection as soon as it has no request in flight. */
    closeIdle(): void {
      closing = true;
      for (const socket of known) if ((active.get(socket) ?? 0) === 0) socket.end();
    },
  };
}

/**
 * HTTP/1.1 requests Node's parser refuses before any handler sees them (headers or URL over
 * MAX_HEADER_BYTES, malformed requests, a request timeout) are answered as Node would, but with
 * the API's JSON error body. As in Node, only on a connection that has not been answered on yet
 * (anywhere else the client could not tell this answer from the one before), and then closed.
 * Other errors (a TLS handshake that failed or stalled) close the connection without a word.
 */
function answerUnparsable(limits: EdgeLimits): (error: Error & { code?: string }, socket: Duplex) => void {
  return (error, socket) => {
    const answer = unparsableAnswer(error.code, limits);
    if (answer !== undefined && socket.writable && (socket as Socket).bytesWritten === 0) {
      const [status, reason, code, message] = answer;
      const body = JSON.stringify({ code, message });
      socket.write(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}

function unparsableAnswer(errorCode: string | undefined, limits: EdgeLimits): [number, string, string, string] | undefined {
  if (errorCode === "HPE_HEADER_OVERFLOW") {
    return [431, "Request Header Fields Too Large", "resource_exhausted", `the request's headers, URL included, are larger than the limit of ${limits.maxHeaderBytes} bytes`];
  }
  if (errorCode === "ERR_HTTP_REQUEST_TIMEOUT") return [408, "Request Timeout", "deadline_exceeded", "the request did not arrive in time"];
  if (errorCode?.startsWith("HPE_") === true) return [400, "Bad Request", "invalid_argument", "the request is not valid HTTP/1.1"];
  return undefined;
}

/** Waits for enough first bytes to tell the h2 preface from HTTP/1.x, then puts them back. */
function sniff(socket: Socket, timeoutMs: number, route: (isH2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const done = () => {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("error", onError);
    socket.off("end", onEnd);
  };
  const onError = () => {
    done();
    socket.destroy();
  };
  const onEnd = () => {
    done();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, H2_PREFACE.length);
    const isPrefacePrefix = seen.subarray(0, length).equals(H2_PREFACE.subarray(0, length));
    if (isPrefacePrefix && seen.length < H2_PREFACE.length) return; // not decided yet
    done();
    socket.pause();
    socket.unshift(seen);
    route(isPrefacePrefix);
  };
  socket.on("data", onData);
  socket.on("error", onError);
  socket.on("end", onEnd);
}

/**
 * HTTP/1.1 has requestTimeout; HTTP/2 has no per-request deadline of its own, so a stream whose
 * request has not fully arrived in time is cancelled here (for both, the stricter of the two wins).
 */
function withRequestDeadline(handler: EdgeHandler, timeoutMs: number): EdgeHandler {
  return (req, res) => {
    if (req.httpVersionMajor === 2) {
      const timer = setTimeout(() => {
        if (!req.complete) (req as Http2ServerRequest).stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      timer.unref();
      res.once("close", () => clearTimeout(timer));
      req.once("end", () => clearTimeout(timer));
    }
    handler(req, res);
  };
}
