import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createContextKey, createContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { GetServiceInfoRequestSchema, TaskService } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { invokeUnary } from "./interceptor-chain.js";

const noteKey = createContextKey<string>("", { description: "a note an interceptor leaves for the handler" });

test("an in-process call's handler gets the call's signal, headers and values, and what it sets comes back", async () => {
  const abort = new AbortController();
  const interceptor: Interceptor = (next) => async (req) => {
    req.header.set("x-from-interceptor", "yes");
    req.contextValues.set(noteKey, "left by the interceptor");
    return next(req);
  };
  let seen: HandlerContext | undefined;
  const result = await invokeUnary({
    method: TaskService.method.getServiceInfo,
    impl: (_request, context) => {
      seen = context;
      context.responseHeader.set("x-answer", "42");
      context.responseTrailer.set("x-trailer", "t");
      return { id: "org.example.tes", name: "a TES" };
    },
    input: create(GetServiceInfoRequestSchema),
    protocolName: "rest",
    requestMethod: "GET",
    url: "http://127.0.0.1/ga4gh/tes/v1/service-info",
    requestHeader: new Headers({ "x-client": "c" }),
    contextValues: createContextValues(),
    signal: () => abort.signal,
    interceptors: [interceptor],
  });
  assert.ok(seen);
  assert.equal(seen.protocolName, "rest");
  assert.equal(seen.method, TaskService.method.getServiceInfo);
  assert.equal(seen.service, TaskService);
  assert.equal(seen.requestMethod, "GET");
  assert.equal(seen.url, "http://127.0.0.1/ga4gh/tes/v1/service-info");
  assert.equal(seen.timeoutMs(), undefined, "REST carries no deadline");
  assert.equal(seen.requestHeader.get("x-client"), "c");
  assert.equal(seen.requestHeader.get("x-from-interceptor"), "yes");
  assert.equal(seen.values.get(noteKey), "left by the interceptor");
  assert.equal(result.message.id, "org.example.tes", "a plain object answer becomes the output message");
  assert.equal(result.header.get("x-answer"), "42");
  assert.equal(result.trailer.get("x-trailer"), "t");
  assert.equal(seen.signal.aborted, false);
  abort.abort(new Error("the client went away"));
  assert.equal(seen.signal.aborted, true, "the handler hears when the call is abandoned");
});

test("the call's signal is asked for only when something reads it", async () => {
  let made = 0;
  const call = (impl: (context: HandlerContext) => unknown) =>
    invokeUnary({
      method: TaskService.method.getServiceInfo,
      impl: (_request, context) => impl(context),
      input: create(GetServiceInfoRequestSchema),
      protocolName: "rest",
      requestMethod: "GET",
      url: "http://127.0.0.1/ga4gh/tes/v1/service-info",
      requestHeader: new Headers(),
      contextValues: createContextValues(),
      signal: () => (made++, new AbortController().signal),
      interceptors: [],
    });
  await call(() => ({}));
  assert.equal(made, 0, "a handler that never looks makes none");
  await call((context) => ({ name: String(context.signal.aborted) }));
  assert.equal(made, 1);
});
