import { ConfigError, EnvReader, type Env } from "./env-reader.js";

/**
 * Settings of the API's network edge: where it listens, TLS, CORS, and every limit and timeout
 * that keeps a slow or hostile client from holding resources. Read once at start-up.
 */
export interface ServerConfig {
  /** PORT: the one TCP port for REST, gRPC, gRPC-Web and Connect. Default 8000; 0 picks a free port. */
  readonly port: number;
  /** HOST: the address to bind. Default "0.0.0.0" (every IPv4 interface); "::" for IPv6 too. */
  readonly host: string;
  /**
   * TLS_CERT_FILE and TLS_KEY_FILE: PEM files. Both set: TLS with ALPN (h2 and http/1.1) on the
   * same port. Neither set: plaintext HTTP/1.1 and h2c. One without the other is an error.
   */
  readonly tls: TlsFiles | undefined;
  readonly cors: CorsConfig;
  readonly limits: EdgeLimits;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface CorsConfig {
  /**
   * CORS_ALLOWED_ORIGINS: comma-separated origins (scheme://host[:port]) that browsers may call
   * from, or "*" for any origin. Default empty: no cross-origin access.
   */
  readonly allowedOrigins: readonly string[];
  /** CORS_MAX_AGE_SECONDS: how long a browser may cache a preflight answer. Default 7200. */
  readonly maxAgeSeconds: number;
}

export interface EdgeLimits {
  /**
   * MAX_REQUEST_BODY_BYTES: the largest request body (REST) or message (gRPC, gRPC-Web, Connect).
   * Default 4 MiB: room for a task with several 128 KiB `content` inputs.
   */
  readonly maxRequestBodyBytes: number;
  /** MAX_HEADER_BYTES: the total size of a request's headers (HTTP/1.1 and h2). Default 16 KiB. */
  readonly maxHeaderBytes: number;
  /** MAX_URL_LENGTH: the longest request target (path and query), in characters. Default 8192. */
  readonly maxUrlLength: number;
  /**
   * HEADERS_TIMEOUT_MS: how long a client may take to send its first bytes and its complete
   * headers. Default 15000.
   */
  readonly headersTimeoutMs: number;
  /** REQUEST_TIMEOUT_MS: how long a client may take to send a whole request. Default 60000. */
  readonly requestTimeoutMs: number;
  /**
   * IDLE_TIMEOUT_MS: a connection (HTTP/1.1 keep-alive or h2 session) with no traffic for this
   * long is closed. Default 30000.
   */
  readonly idleTimeoutMs: number;
  /** MAX_CONCURRENT_STREAMS: h2 streams one connection may have open at once. Default 100. */
  readonly maxConcurrentStreams: number;
  /** MAX_CONNECTIONS: open TCP connections at once; more are closed as they arrive. Default 4096. */
  readonly maxConnections: number;
  /**
   * SHUTDOWN_GRACE_MS: on close, how long requests in flight may take before their connections
   * are cut. Default 10000.
   */
  readonly shutdownGraceMs: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = {
  maxRequestBodyBytes: 4 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxUrlLength: 8192,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 30_000,
  maxConcurrentStreams: 100,
  maxConnections: 4096,
  shutdownGraceMs: 10_000,
};

export function loadServerConfig(env: Env): ServerConfig {
  const read = new EnvReader(env);
  const certFile = read.optionalString("TLS_CERT_FILE");
  const keyFile = read.optionalString("TLS_KEY_FILE");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together (or neither, for plaintext)");
  }
  const allowedOrigins = read.list("CORS_ALLOWED_ORIGINS");
  for (const origin of allowedOrigins) {
    if (origin !== "*" && !isOrigin(origin)) {
      throw new ConfigError(`CORS_ALLOWED_ORIGINS must list origins like https://app.example.org or "*", got "${origin}"`);
    }
  }
  const d = DEFAULT_EDGE_LIMITS;
  const headersTimeoutMs = read.integer("HEADERS_TIMEOUT_MS", d.headersTimeoutMs, { min: 100, max: 600_000 });
  const requestTimeoutMs = read.integer("REQUEST_TIMEOUT_MS", d.requestTimeoutMs, { min: 100, max: 3_600_000 });
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError(`REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must not be shorter than HEADERS_TIMEOUT_MS (${headersTimeoutMs})`);
  }
  return {
    port: read.integer("PORT", 8000, { min: 0, max: 65535 }),
    host: read.string("HOST", "0.0.0.0"),
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    cors: {
      allowedOrigins,
      maxAgeSeconds: read.integer("CORS_MAX_AGE_SECONDS", 7200, { min: 0, max: 86_400 }),
    },
    limits: {
      maxRequestBodyBytes: read.integer("MAX_REQUEST_BODY_BYTES", d.maxRequestBodyBytes, { min: 1024, max: 1024 ** 3 }),
      maxHeaderBytes: read.integer("MAX_HEADER_BYTES", d.maxHeaderBytes, { min: 1024, max: 1024 * 1024 }),
      maxUrlLength: read.integer("MAX_URL_LENGTH", d.maxUrlLength, { min: 64, max: 1024 * 1024 }),
      headersTimeoutMs,
      requestTimeoutMs,
      idleTimeoutMs: read.integer("IDLE_TIMEOUT_MS", d.idleTimeoutMs, { min: 100, max: 3_600_000 }),
      maxConcurrentStreams: read.integer("MAX_CONCURRENT_STREAMS", d.maxConcurrentStreams, { min: 1, max: 10_000 }),
      maxConnections: read.integer("MAX_CONNECTIONS", d.maxConnections, { min: 1, max: 1_000_000 }),
      shutdownGraceMs: readShutdownGraceMs(read),
    },
  };
}

/** SHUTDOWN_GRACE_MS, shared by the API (calls in flight) and the worker pool (jobs in flight). */
export function readShutdownGraceMs(read: EnvReader): number {
  return read.integer("SHUTDOWN_GRACE_MS", DEFAULT_EDGE_LIMITS.shutdownGraceMs, { min: 0, max: 600_000 });
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}
