import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./env-reader.js";
import { DEFAULT_EDGE_LIMITS, loadServerConfig } from "./server.js";

describe("loadServerConfig", () => {
  it("defaults to port 8000 on every interface, plaintext, no CORS, the documented limits", () => {
    const config = loadServerConfig({});
    assert.equal(config.port, 8000);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.tls, undefined);
    assert.deepEqual(config.cors.allowedOrigins, []);
    assert.deepEqual(config.limits, DEFAULT_EDGE_LIMITS);
    assert.ok(config.limits.maxRequestBodyBytes >= 3 * 128 * 1024, "room for 128 KiB contents");
  });

  it("reads every setting", () => {
    const config = loadServerConfig({
      PORT: "9000",
      HOST: "127.0.0.1",
      TLS_CERT_FILE: "/c.pem",
      TLS_KEY_FILE: "/k.pem",
      CORS_ALLOWED_ORIGINS: "https://a.example, http://localhost:3000",
      CORS_MAX_AGE_SECONDS: "60",
      MAX_REQUEST_BODY_BYTES: "1048576",
      MAX_HEADER_BYTES: "8192",
      MAX_URL_LENGTH: "2048",
      HEADERS_TIMEOUT_MS: "5000",
      REQUEST_TIMEOUT_MS: "20000",
      IDLE_TIMEOUT_MS: "10000",
      MAX_CONCURRENT_STREAMS: "50",
      MAX_CONNECTIONS: "100",
      SHUTDOWN_GRACE_MS: "1000",
    });
    assert.deepEqual(config, {
      port: 9000,
      host: "127.0.0.1",
      tls: { certFile: "/c.pem", keyFile: "/k.pem" },
      cors: { allowedOrigins: ["https://a.example", "http://localhost:3000"], maxAgeSeconds: 60 },
      limits: {
        maxRequestBodyBytes: 1048576,
        maxHeaderBytes: 8192,
        maxUrlLength: 2048,
        headersTimeoutMs: 5000,
        requestTimeoutMs: 20000,
        idleTimeoutMs: 10000,
        maxConcurrentStreams: 50,
        maxConnections: 100,
        shutdownGraceMs: 1000,
      },
    });
  });

  it("names the setting that is wrong", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ TLS_CERT_FILE: "/c.pem" }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
      [{ TLS_KEY_FILE: "/k.pem" }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
      [{ PORT: "http" }, /^PORT must be an integer/],
      [{ PORT: "70000" }, /^PORT must be between 0 and 65535/],
      [{ CORS_ALLOWED_ORIGINS: "app.example.org" }, /^CORS_ALLOWED_ORIGINS must list origins/],
      [{ CORS_ALLOWED_ORIGINS: "https://a.example/path" }, /^CORS_ALLOWED_ORIGINS must list origins/],
      [{ MAX_REQUEST_BODY_BYTES: "10" }, /^MAX_REQUEST_BODY_BYTES must be between/],
      [{ HEADERS_TIMEOUT_MS: "5000", REQUEST_TIMEOUT_MS: "1000" }, /REQUEST_TIMEOUT_MS \(1000\) must not be shorter than HEADERS_TIMEOUT_MS/],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => loadServerConfig(env), (error: unknown) => error instanceof ConfigError && message.test(error.message));
    }
  });

  it("accepts * for any origin", () => {
    assert.deepEqual(loadServerConfig({ CORS_ALLOWED_ORIGINS: "*" }).cors.allowedOrigins, ["*"]);
  });
});
