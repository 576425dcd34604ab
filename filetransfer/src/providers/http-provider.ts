import http, { type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import type { AddressPolicy } from "../address-policy.js";
import { ProviderError } from "../provider-error.js";
import { redactUrl } from "../redact.js";
import type { ListedObject, ObjectInfo, ProviderCallOptions, ReadOptions, ReadResult, StorageProvider, WriteOptions } from "../storage-provider.js";
import { httpStatusError } from "./http-status.js";

export interface HttpProviderOptions {
  maxRedirects: number;
  idleTimeoutInMs: number;
}

/**
 * Plain HTTP(S): GET to read (Range to resume), HEAD to stat, PUT to write (presigned URLs).
 * HTTP has no directory listing, so DIRECTORY inputs over HTTP are refused with a clear error.
 */
export class HttpProvider implements StorageProvider {
  readonly schemes = ["http", "https"] as const;
  readonly #policy: AddressPolicy;
  readonly #options: HttpProviderOptions;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;

  constructor(policy: AddressPolicy, options: HttpProviderOptions) {
    this.#policy = policy;
    this.#options = options;
    // The lookup hook checks the address actually connected to, on every new connection.
    this.#httpAgent = new http.Agent({ keepAlive: true, lookup: policy.lookup });
    this.#httpsAgent = new https.Agent({ keepAlive: true, lookup: policy.lookup });
  }

  async stat(url: URL, options: ProviderCallOptions): Promise<ObjectInfo | undefined> {
    const response = await this.#send("HEAD", url, {}, options.signal);
    response.resume();
    if (response.statusCode === 404 || response.statusCode === 410) return undefined;
    if (response.statusCode !== 200) throw httpStatusError("HEAD", url, response.statusCode ?? 0, response.statusMessage);
    return objectInfo(response, contentLength(response));
  }

  async read(url: URL, options: ReadOptions): Promise<ReadResult> {
    const offset = options.offset ?? 0;
    const headers: OutgoingHttpHeaders = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const response = await this.#send("GET", url, headers, options.signal);
    const status = response.statusCode ?? 0;
    if (status === 200) return { ...objectInfo(response, contentLength(response)), body: response, resumed: offset === 0 };
    if (status === 206 && offset > 0) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers["content-range"] ?? "");
      if (!range || Number(range[1]) !== offset) {
        response.destroy();
        throw new ProviderError("transient", `GET ${redactUrl(url)} answered a range other than the one asked for`);
      }
      const total = range[2] === "*" ? undefined : Number(range[2]);
      // Content-MD5 of a 206 covers the range only, so only the size is kept.
      return { ...(total === undefined ? {} : { size: total }), body: response, resumed: true };
    }
    response.resume();
    if (status === 416 && offset > 0) {
      // Asked to resume at the very end: nothing is left to read.
      const total = /^bytes \*\/(\d+)$/.exec(response.headers["content-range"] ?? "")?.[1];
      if (total !== undefined && Number(total) === offset) {
        const { Readable } = await import("node:stream");
        return { body: Readable.from([]), size: offset, resumed: true };
      }
    }
    throw httpStatusError("GET", url, status, response.statusMessage);
  }

  // eslint-disable-next-line require-yield
  async *list(directoryUrl: URL, _options: ProviderCallOptions): AsyncIterable<ListedObject> {
    throw new ProviderError("invalid", `${redactUrl(directoryUrl)}: HTTP cannot list a directory; name each file as its own input`);
  }

  async write(url: URL, body: Readable, options: WriteOptions): Promise<void> {
    this.#policy.assertHostAllowed(url.hostname);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = this.#request("PUT", url, { "content-length": String(options.size), "content-type": "application/octet-stream" }, options.signal);
      request.once("response", resolve);
      request.once("error", (error) => {
        body.destroy();
        reject(connectionError("PUT", url, error));
      });
      body.once("error", (error) => request.destroy(error));
      body.pipe(request);
    });
    response.resume();
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) throw httpStatusError("PUT", url, status, response.statusMessage);
  }

  async close(): Promise<void> {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  /** Sends a bodiless request, following redirects (never from https down to http). */
  async #send(method: "GET" | "HEAD", url: URL, headers: OutgoingHttpHeaders, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      this.#policy.assertHostAllowed(current.hostname);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const request = this.#request(method, current, headers, signal);
        request.once("response", resolve);
        request.once("error", (error) => reject(connectionError(method, current, error)));
        request.end();
      });
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (![301, 302, 303, 307, 308].includes(status) || location === undefined) return response;
      response.resume();
      if (redirects >= this.#options.maxRedirects) {
        throw new ProviderError("invalid", `${method} ${redactUrl(url)}: more than ${this.#options.maxRedirects} redirects`);
      }
      const next = new URL(location, current);
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new ProviderError("invalid", `${method} ${redactUrl(url)}: redirected to an unsupported scheme (${next.protocol})`);
      }
      if (current.protocol === "https:" && next.protocol === "http:") {
        throw new ProviderError("invalid", `${method} ${redactUrl(url)}: refused a redirect from https to http`);
      }
      current = next;
    }
  }

  #request(method: string, url: URL, headers: OutgoingHttpHeaders, signal: AbortSignal | undefined): http.ClientRequest {
    const isHttps = url.protocol === "https:";
    if (!isHttps && url.protocol !== "http:") throw new ProviderError("invalid", `${redactUrl(url)}: not an http or https URL`);
    const request = (isHttps ? https : http).request(url, {
      method,
      headers: { "user-agent": "tes-azure-filetransfer", ...headers },
      agent: isHttps ? this.#httpsAgent : this.#httpAgent,
      ...(signal ? { signal } : {}),
    });
    request.setTimeout(this.#options.idleTimeoutInMs, () => {
      request.destroy(new ProviderError("transient", `${method} ${redactUrl(url)}: no data for ${this.#options.idleTimeoutInMs} ms`));
    });
    return request;
  }
}

function connectionError(method: string, url: URL, error: Error): Error {
  if (error instanceof ProviderError || error.name === "AbortError") return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new ProviderError("transient", `${method} ${redactUrl(url)} failed: ${code ?? error.message}`, { cause: error });
}

function contentLength(response: IncomingMessage): number | undefined {
  const value = response.headers["content-length"];
  return value === undefined ? undefined : Number(value);
}

function objectInfo(response: IncomingMessage, size: number | undefined): ObjectInfo {
  const info: ObjectInfo = {};
  if (size !== undefined && Number.isFinite(size)) info.size = size;
  const md5 = response.headers["content-md5"];
  if (typeof md5 === "string" && /^[A-Za-z0-9+/]{22}==$/.test(md5)) info.md5 = Buffer.from(md5, "base64");
  return info;
}
