import { Code } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { HttpRefusal } from "./rest-error.js";

/**
 * Reads a request body up to `maxBytes`. A declared Content-Length over the limit is refused
 * before reading; a body that grows past it while streaming is refused as soon as it does.
 */
export async function readBody(req: IncomingMessage | Http2ServerRequest, maxBytes: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw tooLarge(maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
}

function tooLarge(maxBytes: number): HttpRefusal {
  return new HttpRefusal(413, Code.ResourceExhausted, `request body is larger than the limit of ${maxBytes} bytes`, {
    connection: "close",
  });
}

/** application/json, with parameters, or any `+json` media type. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}
