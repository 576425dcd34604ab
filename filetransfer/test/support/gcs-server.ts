import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify, type Hash, type KeyObject } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

/**
 * A Google Cloud Storage JSON API server on loopback, for the GCS provider's tests.
 *
 * Why our own: no GCS emulator can be installed here. fake-gcs-server is a Go binary (not on npm or
 * in Debian), Firebase's storage emulator downloads a Java rules runtime when it starts, and the
 * Python ones are not reachable. So this implements, from Google's published JSON API reference,
 * exactly the calls @google-cloud/storage makes for the provider, with the store's real behaviour:
 *
 * - objects.get (metadata), and media downloads with `alt=media`, Range (206, Content-Range, 416)
 *   and the x-goog-hash header (crc32c and md5) the client checks whole downloads against;
 * - objects.list with prefix, maxResults and pageToken paging;
 * - uploads: uploadType=media, multipart (multipart/related) and resumable sessions (Location,
 *   Content-Range chunks, 308 with Range for an incomplete upload, status queries, resuming after a
 *   dropped connection), each checking a client-supplied md5Hash like GCS does (400 on mismatch);
 * - objects.delete; GCS's JSON error bodies and status codes (401, 404, 400, 416);
 * - service-account auth: requests must carry a self-signed RS256 JWT (what google-auth-library
 *   sends with useJWTAccessWithScope) signed by a key this server issued, unless `anonymous` is on;
 *   like GCS, the URI of a resumable session is its own authorization.
 *
 * Objects live in files in a temp directory, so a 1 GiB object costs disk, not memory.
 */
export interface GcsServer {
  /** The endpoint for the client library's apiEndpoint (FILETRANSFER_GCS_ENDPOINT). */
  endpoint: string;
  /** A service account key file the server trusts, and one signed by a key it has never seen. */
  credentials: { keyFile: string; untrustedKeyFile: string };
  /** Settings for the GCS provider with the trusted key. */
  env: Record<string, string>;
  createBucket(name: string): void;
  /** Stores an object directly, as another writer would. */
  putObject(bucket: string, name: string, data: Buffer): void;
  getObject(bucket: string, name: string): Buffer | undefined;
  /** Range headers of the media downloads so far. */
  rangeRequests: string[];
  /** Cuts the connection of the next media download once it has sent this many bytes. */
  dropNextDownloadAfter(bytes: number): void;
  stop(): Promise<void>;
}

interface StoredObject {
  name: string;
  bucket: string;
  file: string;
  size: number;
  md5: string;
  crc32c: string;
  generation: string;
  contentType: string;
  updated: string;
}

interface UploadSession {
  bucket: string;
  name: string;
  contentType: string;
  expectedMd5?: string;
  file: string;
  persisted: number;
  md5: Hash;
  crc: number;
}

export interface GcsServerOptions {
  /** Serve requests without credentials (as a public bucket would). Default true. */
  anonymous?: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

export async function startGcsServer(options: GcsServerOptions = {}): Promise<GcsServer> {
  const anonymous = options.anonymous ?? true;
  const dir = mkdtempSync(join(tmpdir(), "ft-gcs-"));
  const buckets = new Map<string, Map<string, StoredObject>>();
  const sessions = new Map<string, UploadSession>();
  let generation = Date.now() * 1000;
  let dropDownloadAfter: number | undefined;
  const rangeRequests: string[] = [];

  const trusted = serviceAccountKey("filetransfer-test@tes-test.iam.gserviceaccount.com");
  const untrusted = serviceAccountKey("filetransfer-test@tes-test.iam.gserviceaccount.com");
  const trustedKeys = new Map<string, KeyObject>([[trusted.json.private_key_id as string, trusted.publicKey]]);
  const keyFile = join(dir, "service-account.json");
  const untrustedKeyFile = join(dir, "untrusted-service-account.json");
  writeFileSync(keyFile, JSON.stringify(trusted.json));
  writeFileSync(untrustedKeyFile, JSON.stringify(untrusted.json));

  const bucketOf = (name: string): Map<string, StoredObject> => {
    const bucket = buckets.get(name);
    if (!bucket) throw new HttpError(404, "The specified bucket does not exist.", "notFound");
    return bucket;
  };

  const finish = (session: UploadSession): StoredObject => {
    const md5 = session.md5.digest("base64");
    if (session.expectedMd5 && session.expectedMd5 !== md5) {
      throw new HttpError(400, `Provided MD5 hash "${session.expectedMd5}" doesn't match calculated MD5 hash "${md5}".`, "invalid");
    }
    generation += 1;
    const object: StoredObject = {
      name: session.name,
      bucket: session.bucket,
      file: session.file,
      size: session.persisted,
      md5,
      crc32c: crc32cBase64(session.crc),
      generation: String(generation),
      contentType: session.contentType,
      updated: new Date().toISOString(),
    };
    bucketOf(session.bucket).set(session.name, object);
    return object;
  };

  const newSession = (bucket: string, name: string, metadata: Record<string, unknown>): UploadSession => {
    bucketOf(bucket);
    if (!name) throw new HttpError(400, "Required parameter: name", "required");
    const session: UploadSession = {
      bucket,
      name,
      contentType: typeof metadata.contentType === "string" ? metadata.contentType : "application/octet-stream",
      file: join(dir, `object-${randomBytes(8).toString("hex")}`),
      persisted: 0,
      md5: createHash("md5"),
      crc: 0,
    };
    if (typeof metadata.md5Hash === "string") session.expectedMd5 = metadata.md5Hash;
    writeFileSync(session.file, "");
    return session;
  };

  /** Appends a request body to a session, hashing what reaches the disk (a cut request keeps its prefix). */
  const append = async (session: UploadSession, req: http.IncomingMessage): Promise<void> => {
    const out = createWriteStream(session.file, { flags: "a" });
    req.on("data", (chunk: Buffer) => {
      session.md5.update(chunk);
      session.crc = crc32cUpdate(session.crc, chunk);
      session.persisted += chunk.length;
    });
    await pipeline(req, out);
  };

  const authorize = (req: http.IncomingMessage): void => {
    if (anonymous) return;
    const header = req.headers.authorization ?? "";
    const token = /^Bearer (.+)$/.exec(header)?.[1];
    if (!token || !verifySelfSignedJwt(token, trustedKeys)) throw new HttpError(401, "Invalid Credentials", "authError");
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://gcs.local");
    // STORAGE_EMULATOR_HOST clients call /b/..., apiEndpoint clients /storage/v1/b/...
    const path = url.pathname.replace(/^\/storage\/v1(?=\/b\/)/, "").replace(/^\/download\/storage\/v1(?=\/b\/)/, "");
    // A resumable session's URI authorizes its uploads by itself; everything else needs credentials.
    if (!url.searchParams.has("upload_id")) authorize(req);

    let match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (match) return upload(decodeURIComponent(match[1] as string), url, req, res);

    match = /^\/b\/([^/]+)\/o$/.exec(path);
    if (match && req.method === "GET") return list(decodeURIComponent(match[1] as string), url, res);

    match = /^\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    if (match) {
      const bucket = decodeURIComponent(match[1] as string);
      const name = decodeURIComponent(match[2] as string);
      const object = bucketOf(bucket).get(name);
      if (!object) throw new HttpError(404, `No such object: ${bucket}/${name}`, "notFound");
      if (req.method === "DELETE") {
        bucketOf(bucket).delete(name);
        rmSync(object.file, { force: true });
        res.writeHead(204).end();
        return;
      }
      if (req.method !== "GET") throw new HttpError(405, "Method not allowed", "badRequest");
      if (url.searchParams.get("alt") === "media") return media(object, req, res);
      return json(res, 200, resource(object));
    }
    match = /^\/b\/([^/]+)$/.exec(path);
    if (match && req.method === "GET") {
      const name = decodeURIComponent(match[1] as string);
      bucketOf(name);
      return json(res, 200, { kind: "storage#bucket", id: name, name });
    }
    throw new HttpError(404, "Not Found", "notFound");
  };

  const list = (bucketName: string, url: URL, res: http.ServerResponse): void => {
    const bucket = bucketOf(bucketName);
    const prefix = url.searchParams.get("prefix") ?? "";
    const maxResults = Math.min(Number(url.searchParams.get("maxResults") ?? 1000) || 1000, 1000);
    const after = url.searchParams.get("pageToken") ? Buffer.from(url.searchParams.get("pageToken") as string, "base64url").toString() : "";
    const names = [...bucket.keys()].filter((name) => name.startsWith(prefix) && name > after).sort();
    const page = names.slice(0, maxResults);
    const body: Record<string, unknown> = { kind: "storage#objects", items: page.map((name) => resource(bucket.get(name) as StoredObject)) };
    if (names.length > page.length) body.nextPageToken = Buffer.from(page[page.length - 1] as string).toString("base64url");
    json(res, 200, body);
  };

  const media = async (object: StoredObject, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const headers: Record<string, string> = {
      "content-type": object.contentType,
      "x-goog-hash": `crc32c=${object.crc32c},md5=${object.md5}`,
      "x-goog-generation": object.generation,
      "x-goog-stored-content-length": String(object.size),
      "accept-ranges": "bytes",
      etag: `"${Buffer.from(object.md5, "base64").toString("hex")}"`,
    };
    let start = 0;
    let end = object.size - 1;
    let status = 200;
    if (req.headers.range) rangeRequests.push(req.headers.range);
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      if (range[1] === "") {
        start = Math.max(0, object.size - Number(range[2]));
      } else {
        start = Number(range[1]);
        if (range[2] !== "") end = Math.min(end, Number(range[2]));
      }
      if (start >= object.size) {
        res.writeHead(416, { "content-range": `bytes */${object.size}`, "content-type": "application/json" });
        res.end(JSON.stringify(errorBody(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable")));
        return;
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${object.size}`;
    }
    headers["content-length"] = String(Math.max(0, end - start + 1));
    res.writeHead(status, headers);
    if (object.size === 0) {
      res.end();
      return;
    }
    const source = createReadStream(object.file, { start, end });
    const cutAfter = dropDownloadAfter;
    dropDownloadAfter = undefined;
    if (cutAfter !== undefined) {
      let sent = 0;
      source.on("data", (chunk: string | Buffer) => {
        sent += chunk.length;
        if (sent >= cutAfter) {
          source.destroy();
          req.socket.destroy();
        }
      });
    }
    await pipeline(source, res).catch(() => undefined);
  };

  const upload = async (bucket: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const uploadType = url.searchParams.get("uploadType");
    if (uploadType === "media" && req.method === "POST") {
      const session = newSession(bucket, url.searchParams.get("name") ?? "", { contentType: req.headers["content-type"] });
      await append(session, req);
      return json(res, 200, resource(finish(session)));
    }
    if (uploadType === "multipart" && req.method === "POST") {
      const { metadata, data } = parseMultipartRelated(req.headers["content-type"] ?? "", await readBody(req, 64 * 1024 * 1024));
      const name = typeof metadata.name === "string" ? metadata.name : (url.searchParams.get("name") ?? "");
      const session = newSession(bucket, name, metadata);
      writeFileSync(session.file, data);
      session.md5.update(data);
      session.crc = crc32cUpdate(0, data);
      session.persisted = data.length;
      return json(res, 200, resource(finish(session)));
    }
    if (uploadType === "resumable" && req.method === "POST") {
      const body = (await readBody(req, 1024 * 1024)).toString("utf8");
      const metadata = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      const name = typeof metadata.name === "string" ? metadata.name : (url.searchParams.get("name") ?? "");
      const session = newSession(bucket, name, metadata);
      const id = randomBytes(16).toString("hex");
      sessions.set(id, session);
      const location = `http://${req.headers.host}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`;
      res.writeHead(200, { location, "content-length": "0" }).end();
      return;
    }
    if (uploadType === "resumable" && req.method === "PUT") {
      const id = url.searchParams.get("upload_id") ?? "";
      const session = sessions.get(id);
      if (!session) throw new HttpError(404, "No such upload session", "notFound");
      const contentRange = req.headers["content-range"] ?? "";
      const chunk = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(contentRange);
      const query = /^bytes \*\/(\d+|\*)$/.exec(contentRange);
      let total: number | undefined;
      if (chunk) {
        const first = Number(chunk[1]);
        if (first !== session.persisted) {
          req.resume();
          return incomplete(res, session);
        }
        await append(session, req);
        total = chunk[3] === "*" ? (chunk[2] === "*" ? session.persisted : undefined) : Number(chunk[3]);
      } else if (query) {
        req.resume();
        total = query[1] === "*" ? undefined : Number(query[1]);
      } else {
        await append(session, req);
        total = session.persisted;
      }
      if (total !== undefined && session.persisted >= total) {
        sessions.delete(id);
        return json(res, 200, resource(finish(session)));
      }
      return incomplete(res, session);
    }
    throw new HttpError(400, `Unsupported upload: ${req.method} uploadType=${uploadType ?? ""}`, "invalid");
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || req.socket.destroyed) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) json(res, error.status, errorBody(error.status, error.message, error.reason));
      else json(res, 500, errorBody(500, error instanceof Error ? error.message : String(error), "backendError"));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    credentials: { keyFile, untrustedKeyFile },
    rangeRequests,
    env: { FILETRANSFER_GCS_ENDPOINT: endpoint, FILETRANSFER_GCS_KEY_FILE: keyFile },
    createBucket: (name) => {
      if (!buckets.has(name)) buckets.set(name, new Map());
    },
    putObject: (bucket, name, data) => {
      const session = newSession(bucket, name, {});
      writeFileSync(session.file, data);
      session.md5.update(data);
      session.crc = crc32cUpdate(0, data);
      session.persisted = data.length;
      finish(session);
    },
    getObject: (bucket, name) => {
      const object = buckets.get(bucket)?.get(name);
      if (!object) return undefined;
      return readFileSync(object.file);
    },
    dropNextDownloadAfter: (bytes) => {
      dropDownloadAfter = bytes;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function incomplete(res: http.ServerResponse, session: UploadSession): void {
  const headers: Record<string, string> = { "content-length": "0" };
  if (session.persisted > 0) headers.range = `bytes=0-${session.persisted - 1}`;
  res.writeHead(308, headers).end();
}

function resource(object: StoredObject): Record<string, unknown> {
  const id = `${object.bucket}/${object.name}/${object.generation}`;
  return {
    kind: "storage#object",
    id,
    name: object.name,
    bucket: object.bucket,
    generation: object.generation,
    metageneration: "1",
    contentType: object.contentType,
    storageClass: "STANDARD",
    size: String(object.size),
    md5Hash: object.md5,
    crc32c: object.crc32c,
    etag: Buffer.from(id).toString("base64"),
    timeCreated: object.updated,
    updated: object.updated,
  };
}

function errorBody(code: number, message: string, reason: string): Record<string, unknown> {
  return { error: { code, message, errors: [{ message, domain: "global", reason }] } };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, "Request body too large for this upload type", "uploadTooLarge");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A multipart/related body: the object's JSON metadata, then its bytes (RFC 2387). */
function parseMultipartRelated(contentType: string, body: Buffer): { metadata: Record<string, unknown>; data: Buffer } {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new HttpError(400, "multipart upload without a boundary", "invalid");
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    parts.push(body.subarray(at + delimiter.length, next));
    at = next;
  }
  const [metaPart, dataPart] = parts.map((part) => {
    const headerEnd = part.indexOf("\r\n\r\n");
    // Each part is framed by CRLF after the delimiter and CRLF before the next one.
    return part.subarray(headerEnd + 4, part.length - 2);
  });
  if (!metaPart || !dataPart) throw new HttpError(400, "multipart upload needs a metadata part and a media part", "invalid");
  return { metadata: JSON.parse(metaPart.toString("utf8")) as Record<string, unknown>, data: dataPart };
}

function serviceAccountKey(clientEmail: string): { json: Record<string, string>; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyId = randomBytes(20).toString("hex");
  return {
    json: {
      type: "service_account",
      project_id: "tes-test",
      private_key_id: keyId,
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: clientEmail,
      client_id: "100000000000000000000",
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: "https://oauth2.googleapis.com/token",
    },
    publicKey: createPublicKey(publicKey.export({ type: "spki", format: "pem" })),
  };
}

/** Checks a service account's self-signed JWT: RS256 over header.payload, a known key id, not expired. */
function verifySelfSignedJwt(token: string, keys: ReadonlyMap<string, KeyObject>): boolean {
  const [header64, payload64, signature64] = token.split(".");
  if (!header64 || !payload64 || !signature64) return false;
  try {
    const header = JSON.parse(Buffer.from(header64, "base64url").toString()) as { alg?: string; kid?: string };
    const payload = JSON.parse(Buffer.from(payload64, "base64url").toString()) as { exp?: number; iss?: string };
    const key = header.kid ? keys.get(header.kid) : undefined;
    if (header.alg !== "RS256" || !key) return false;
    if (!payload.exp || payload.exp * 1000 < Date.now()) return false;
    return verify("RSA-SHA256", Buffer.from(`${header64}.${payload64}`), key, Buffer.from(signature64, "base64url"));
  } catch {
    return false;
  }
}

const CRC32C_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum GCS keeps for every object. */
function crc32cUpdate(crc: number, data: Buffer): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = (CRC32C_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

function crc32cBase64(crc: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0);
  return out.toString("base64");
}
