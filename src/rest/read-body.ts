import { Code } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { HttpRefusal } from "./rest-error.js";

/**
 * Reads a request body up to `maxBytes`. A declared Content-Length over the limit is refused
 * before reading; a body that grows past it while streaming is refused as soon as it does. Either
 * way the rest of the body is read and dropped, never left unread (see tooLarge).
 */
export function readBody(req: IncomingMessage | Http2ServerRequest, maxBytes: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        stop();
        req.resume(); // Drop the rest as it comes; destroying the request would reset the connection.
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const onClose = (): void => {
      stop();
      reject(new Error("the client closed the connection before the whole request body arrived"));
    };
    const stop = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/**
 * No "connection: close": closing with the client's unread bytes still arriving makes the kernel
 * reset the connection, and a client still sending its body then gets EPIPE instead of this 413.
 * Node drains (and drops) the rest of the body after the answer, within REQUEST_TIMEOUT_MS.
 */
function tooLarge(maxBytes: number): HttpRefusal {
  return new HttpRefusal(413, Code.ResourceExhausted, `request body is larger than the limit of ${maxBytes} bytes`);
}

/** application/json, with parameters, or any `+json` media type. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}
