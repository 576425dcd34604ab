import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { callerKey } from "../../src/auth/caller.js";
import { ExecutorSchema, GetServiceInfoRequestSchema, TaskSchema, TaskService } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { wireProtocolKey, type WireProtocol } from "../../src/interceptors/wire-protocol.js";
import { ALL, ownedBy } from "../../src/store/task-store.js";
import { createGrpcJsClient, grpcUnary } from "../support/grpc-js-client.js";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

interface Observed {
  procedure: string;
  url: string;
  protocol: WireProtocol;
  probe: string | null;
}

describe("one interceptor chain for REST, gRPC, gRPC-Web and Connect", () => {
  const observed: Observed[] = [];
  // Stands in for authentication: it reads a header, sets the caller the handlers use, and can refuse.
  const probe: Interceptor = (next) => async (req) => {
    observed.push({
      procedure: `${req.service.typeName}/${req.method.name}`,
      url: req.url,
      protocol: req.contextValues.get(wireProtocolKey),
      probe: req.header.get("x-probe"),
    });
    if (req.header.get("x-deny") !== null) throw new ConnectError("denied by the probe", Code.PermissionDenied);
    const owner = req.header.get("x-owner");
    if (owner !== null) req.contextValues.set(callerKey, { owner, scope: ownedBy(owner) });
    const res = await next(req);
    res.header.set("x-probe-seen", "yes");
    return res;
  };
  let s: TestServer;
  let grpcClient: grpc.Client;
  before(async () => {
    s = await startTestServer({ interceptors: [probe] });
    grpcClient = createGrpcJsClient(TaskService, `127.0.0.1:${s.port}`);
  });
  after(async () => {
    grpcClient.close();
    await s.close();
  });

  const task = () => create(TaskSchema, { executors: [create(ExecutorSchema, { image: "alpine", command: ["true"] })] });
  const connectTransports = (): Array<[string, WireProtocol, Transport]> => [
    ["connect over HTTP/1.1", "connect", createConnectTransport({ baseUrl: s.baseUrl, httpVersion: "1.1" })],
    ["connect over h2c, binary", "connect", createConnectTransport({ baseUrl: s.baseUrl, httpVersion: "2", useBinaryFormat: true })],
    ["gRPC-Web over HTTP/1.1", "grpc-web", createGrpcWebTransport({ baseUrl: s.baseUrl, httpVersion: "1.1" })],
    ["gRPC-Web over h2c", "grpc-web", createGrpcWebTransport({ baseUrl: s.baseUrl, httpVersion: "2" })],
    ["gRPC (connect-node client)", "grpc", createGrpcTransport({ baseUrl: s.baseUrl })],
  ];

  it("sees every call of every protocol once, with its protocol, headers and context values", async () => {
    observed.length = 0;
    const created: Array<[string, string]> = [];

    const rest = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-probe": "rest", "x-owner": "owner-rest" },
      body: JSON.stringify({ executors: [{ image: "alpine", command: ["true"] }] }),
    });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers.get("x-probe-seen"), "yes");
    created.push([((await rest.json()) as { id: string }).id, "owner-rest"]);

    for (const [name, , transport] of connectTransports()) {
      const client = createClient(TaskService, transport);
      const owner = `owner-${name}`;
      const { id } = await client.createTask(task(), { headers: { "x-probe": name, "x-owner": owner } });
      created.push([id, owner]);
    }

    const viaGrpcJs = await grpcUnary(grpcClient, TaskService.method.createTask, task(), { "x-probe": "grpc-js", "x-owner": "owner-grpc-js" });
    created.push([viaGrpcJs.id, "owner-grpc-js"]);

    assert.deepEqual(
      observed.map((o) => [o.procedure, o.protocol, o.probe]),
      [
        ["ga4gh.tes.v1.TaskService/CreateTask", "rest", "rest"],
        ...connectTransports().map(([name, protocol]) => ["ga4gh.tes.v1.TaskService/CreateTask", protocol, name]),
        ["ga4gh.tes.v1.TaskService/CreateTask", "grpc", "grpc-js"],
      ],
    );
    assert.equal(observed[0]?.url, `${s.baseUrl}/ga4gh/tes/v1/tasks`);
    for (const o of observed.slice(1)) assert.equal(o.url, `${s.baseUrl}/ga4gh.tes.v1.TaskService/CreateTask`);
    // The caller the interceptor set reached the handler: each task is stored under its owner.
    for (const [id, owner] of created) {
      const record = await s.store.get(id, ALL);
      assert.equal(record?.owner, owner, `task created with ${owner}`);
    }
  });

  it("refuses through every protocol when the interceptor refuses, with the same code", async () => {
    observed.length = 0;
    const rest = await fetch(`${s.baseUrl}/ga4gh/tes/v1/service-info`, { headers: { "x-deny": "1" } });
    assert.equal(rest.status, 403);
    assert.deepEqual(await rest.json(), { code: "permission_denied", message: "denied by the probe" });

    for (const [name, , transport] of connectTransports()) {
      const client = createClient(TaskService, transport);
      await assert.rejects(client.getServiceInfo({}, { headers: { "x-deny": "1" } }), (error: unknown) => {
        assert.equal(ConnectError.from(error).code, Code.PermissionDenied, name);
        return true;
      });
    }
    await assert.rejects(
      grpcUnary(grpcClient, TaskService.method.getServiceInfo, create(GetServiceInfoRequestSchema), { "x-deny": "1" }),
      (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.PERMISSION_DENIED);
        assert.equal(error.details, "denied by the probe");
        return true;
      },
    );
    assert.equal(observed.length, 2 + connectTransports().length);
  });

  it("gives REST and gRPC the same task through the same handler", async () => {
    const { id } = await grpcUnary(grpcClient, TaskService.method.createTask, task());
    const rest = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks/${id}?view=BASIC`);
    const json = (await rest.json()) as { id: string; state: string; executors: unknown[] };
    assert.equal(json.id, id);
    assert.equal(json.state, "QUEUED");
    const viaGrpc = await grpcUnary(grpcClient, TaskService.method.getTask, { $typeName: "ga4gh.tes.v1.GetTaskRequest", id, view: 1 });
    assert.equal(viaGrpc.id, id);
    await assert.rejects(
      grpcUnary(grpcClient, TaskService.method.getTask, { $typeName: "ga4gh.tes.v1.GetTaskRequest", id: "missing", view: 0 }),
      (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
    );
  });
});
