import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { GetServiceInfoRequestSchema, TaskService } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { createGrpcJsClient, grpcUnary } from "../support/grpc-js-client.js";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

const run = promisify(execFile);

describe("TLS with ALPN on the one port", () => {
  let dir: string;
  let ca: Buffer;
  let s: TestServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-tls-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    ca = await readFile(cert);
    s = await startTestServer({ env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key, HEADERS_TIMEOUT_MS: "500" } });
  });
  after(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves REST over HTTP/1.1 when the client offers only http/1.1", async () => {
    const { status, body, alpn } = await new Promise<{ status: number; body: string; alpn: string | false | null }>((resolve, reject) => {
      const req = https.get(`${s.baseUrl}/ga4gh/tes/v1/service-info`, { ca, ALPNProtocols: ["http/1.1"] } as https.RequestOptions, (res) => {
        const alpn = (res.socket as TLSSocket).alpnProtocol;
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, alpn }));
      });
      req.on("error", reject);
    });
    assert.equal(status, 200);
    assert.equal(alpn, "http/1.1");
    assert.equal((JSON.parse(body) as { type: { artifact: string } }).type.artifact, "tes");
  });

  it("serves REST over h2 when ALPN picks h2", async () => {
    const session = http2.connect(s.baseUrl, { ca });
    try {
      const { status, alpn } = await new Promise<{ status: number; alpn: string | undefined }>((resolve, reject) => {
        const req = session.request({ ":path": "/ga4gh/tes/v1/service-info" });
        req.on("response", (headers) => resolve({ status: Number(headers[":status"]), alpn: session.alpnProtocol }));
        req.resume();
        req.on("error", reject);
        req.end();
      });
      assert.equal(status, 200);
      assert.equal(alpn, "h2");
    } finally {
      session.close();
    }
  });

  it("closes a connection that stalls before or in the TLS handshake", async () => {
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = net.connect(s.port, "127.0.0.1", () => socket.write(Buffer.from([0x16, 0x03, 0x01])));
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });
    const ms = Date.now() - started;
    assert.ok(ms >= 400 && ms < 3000, `closed after ${ms} ms`);
  });

  it("serves gRPC over TLS", async () => {
    const client = createGrpcJsClient(TaskService, `localhost:${s.port}`, grpc.credentials.createSsl(ca));
    try {
      const info = await grpcUnary(client, TaskService.method.getServiceInfo, create(GetServiceInfoRequestSchema));
      assert.equal(info.type?.artifact, "tes");
    } finally {
      client.close();
    }
  });
});
