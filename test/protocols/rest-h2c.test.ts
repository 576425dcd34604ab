import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

describe("TES REST over h2c (HTTP/2 without TLS) on the same port", () => {
  let s: TestServer;
  let session: http2.ClientHttp2Session;
  before(async () => {
    s = await startTestServer();
    session = http2.connect(s.baseUrl);
  });
  after(async () => {
    session.close();
    await s.close();
  });

  function request(headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Reply> {
    return new Promise((resolve, reject) => {
      const req = session.request(headers);
      let response: http2.IncomingHttpHeaders = {};
      let text = "";
      req.on("response", (h) => (response = h));
      req.on("data", (chunk: Buffer) => (text += chunk.toString()));
      req.on("end", () => resolve({ status: Number(response[":status"]), headers: response, body: text }));
      req.on("error", reject);
      req.end(body);
    });
  }

  it("creates, reads and cancels a task, with the same JSON as HTTP/1.1", async () => {
    const created = await request(
      { ":method": "POST", ":path": "/ga4gh/tes/v1/tasks", "content-type": "application/json" },
      JSON.stringify({ executors: [{ image: "alpine", command: ["true"] }] }),
    );
    assert.equal(created.status, 200, created.body);
    const { id } = JSON.parse(created.body) as { id: string };
    const got = await request({ ":path": `/ga4gh/tes/v1/tasks/${id}` });
    assert.equal(got.status, 200);
    assert.equal(got.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(got.body), { id, state: "QUEUED" });
    const canceled = await request({ ":method": "POST", ":path": `/ga4gh/tes/v1/tasks/${id}:cancel` });
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body, "{}");
  });

  it("answers errors as JSON with the HTTP status, without HTTP/1-only headers", async () => {
    const missing = await request({ ":path": "/ga4gh/tes/v1/tasks/none" });
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).code, "not_found");
    const tooBig = await request(
      { ":method": "POST", ":path": "/ga4gh/tes/v1/tasks", "content-type": "application/json", "content-length": String(64 * 1024 * 1024) },
      "{}",
    ).catch((error: Error) => ({ status: 0, headers: {}, body: error.message }));
    // Either the 413 arrives, or the stream is reset once the server refuses; it is never served.
    assert.notEqual(tooBig.status, 200);
  });
});
