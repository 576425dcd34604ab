import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { clientGoneSignal } from "./client-gone-signal.js";

/** A server whose every call hands its response to `onCall` and never answers by itself. */
async function serve(onCall: (res: ServerResponse) => void) {
  const server = createServer((_req, res) => onCall(res));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Sends a request and drops the connection once the server has it. */
async function callAndLeave(port: number, served: Promise<unknown>): Promise<void> {
  const client = request({ port, host: "127.0.0.1", path: "/" });
  client.on("error", () => {});
  client.end();
  await served;
  client.destroy();
}

test("the signal aborts with Canceled when the client goes away before the answer", async () => {
  let signal: AbortSignal | undefined;
  let arrived!: () => void;
  const served = new Promise<void>((resolve) => (arrived = resolve));
  const server = await serve((res) => {
    signal = clientGoneSignal(res)();
    arrived();
  });
  try {
    await callAndLeave(server.port, served);
    if (!signal!.aborted) await once(signal!, "abort");
    assert.ok(signal!.reason instanceof ConnectError);
    assert.equal((signal!.reason as ConnectError).code, Code.Canceled);
  } finally {
    await server.close();
  }
});

test("a signal first asked for after the client left is made aborted", async () => {
  let signalOf: (() => AbortSignal) | undefined;
  let arrived!: () => void;
  let left!: () => void;
  const served = new Promise<void>((resolve) => (arrived = resolve));
  const gone = new Promise<void>((resolve) => (left = resolve));
  const server = await serve((res) => {
    signalOf = clientGoneSignal(res);
    res.once("close", () => left()); // after clientGoneSignal's own listener
    arrived();
  });
  try {
    await callAndLeave(server.port, served);
    await gone;
    assert.equal(signalOf!().aborted, true);
  } finally {
    await server.close();
  }
});

test("a call that was answered is never aborted", async () => {
  let signalOf: (() => AbortSignal) | undefined;
  const server = await serve((res) => {
    signalOf = clientGoneSignal(res);
    res.end("done");
  });
  try {
    const answered = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(await answered.text(), "done");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(signalOf!().aborted, false);
  } finally {
    await server.close();
  }
});
