import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  CancelTaskRequestSchema,
  ExecutorSchema,
  GetServiceInfoRequestSchema,
  GetTaskRequestSchema,
  ListTasksRequestSchema,
  TaskSchema,
  TaskService,
  View,
} from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { createGrpcJsClient, grpcUnary } from "../support/grpc-js-client.js";

/**
 * The TES calls the auth tests make, over one wire protocol each, as a client of that protocol
 * sees them: a value, or a refusal with its code and the `WWW-Authenticate` challenge (a header on
 * REST and Connect, a trailer on gRPC and gRPC-Web).
 */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: Code; readonly challenge: string | null; readonly message: string; readonly httpStatus?: number };

export interface TaskPageIds {
  readonly ids: string[];
  readonly nextPageToken: string;
}

export interface ProtocolCaller {
  readonly name: string;
  createTask(token: Credential): Promise<Outcome<string>>;
  getTask(id: string, token: Credential): Promise<Outcome<string>>;
  listTasks(query: { pageSize?: number; pageToken?: string }, token: Credential): Promise<Outcome<TaskPageIds>>;
  cancelTask(id: string, token: Credential): Promise<Outcome<void>>;
  getServiceInfo(token: Credential): Promise<Outcome<string>>;
  close(): void;
}

const task = () => create(TaskSchema, { executors: [create(ExecutorSchema, { image: "alpine", command: ["true"] })] });

export function protocolCallers(baseUrl: string, port: number): ProtocolCaller[] {
  return [
    restCaller(baseUrl),
    connectCaller("connect", createConnectTransport({ baseUrl, httpVersion: "1.1" })),
    connectCaller("connect (h2c, binary)", createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true })),
    connectCaller("gRPC-Web", createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })),
    grpcJsCaller(`127.0.0.1:${port}`),
  ];
}

/** A bearer token, a whole Authorization value (to send malformed ones), or nothing. */
export type Credential = string | { readonly authorization: string } | undefined;

function headersFor(token: Credential): Record<string, string> {
  if (typeof token === "object") return { authorization: token.authorization };
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

function restCaller(baseUrl: string): ProtocolCaller {
  async function call<T>(method: string, path: string, token: Credential, read: (json: Record<string, unknown>) => T, body?: unknown): Promise<Outcome<T>> {
    const headers: Record<string, string> = headersFor(token);
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${baseUrl}/ga4gh/tes/v1${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const json = (await response.json()) as Record<string, unknown>;
    if (response.ok) return { ok: true, value: read(json) };
    return {
      ok: false,
      code: codeFromString(String(json.code)) ?? Code.Unknown,
      challenge: response.headers.get("www-authenticate"),
      message: String(json.message),
      httpStatus: response.status,
    };
  }
  return {
    name: "REST",
    createTask: (token) => call("POST", "/tasks", token, (j) => String(j.id), { executors: [{ image: "alpine", command: ["true"] }] }),
    getTask: (id, token) => call("GET", `/tasks/${id}`, token, (j) => String(j.id)),
    listTasks: ({ pageSize, pageToken }, token) => {
      const query = new URLSearchParams();
      if (pageSize !== undefined) query.set("page_size", String(pageSize));
      if (pageToken !== undefined) query.set("page_token", pageToken);
      return call("GET", `/tasks?${query}`, token, (j) => ({
        ids: ((j.tasks as Array<{ id: string }> | undefined) ?? []).map((t) => t.id),
        nextPageToken: String(j.next_page_token ?? ""),
      }));
    },
    cancelTask: (id, token) => call("POST", `/tasks/${id}:cancel`, token, () => undefined),
    getServiceInfo: (token) => call("GET", "/service-info", token, (j) => String(j.id)),
    close: () => {},
  };
}

function connectCaller(name: string, transport: Transport): ProtocolCaller {
  const client = createClient(TaskService, transport);
  async function call<T>(run: (headers: Record<string, string>) => Promise<T>, token: Credential): Promise<Outcome<T>> {
    try {
      return { ok: true, value: await run(headersFor(token)) };
    } catch (error) {
      const e = ConnectError.from(error);
      return { ok: false, code: e.code, challenge: e.metadata.get("www-authenticate"), message: e.rawMessage };
    }
  }
  return {
    name,
    createTask: (token) => call(async (headers) => (await client.createTask(task(), { headers })).id, token),
    getTask: (id, token) => call(async (headers) => (await client.getTask({ id, view: View.MINIMAL }, { headers })).id, token),
    listTasks: ({ pageSize, pageToken }, token) =>
      call(async (headers) => {
        const page = await client.listTasks({ pageSize: pageSize ?? 0, pageToken: pageToken ?? "" }, { headers });
        return { ids: page.tasks.map((t) => t.id), nextPageToken: page.nextPageToken };
      }, token),
    cancelTask: (id, token) => call(async (headers) => void (await client.cancelTask({ id }, { headers })), token),
    getServiceInfo: (token) => call(async (headers) => (await client.getServiceInfo({}, { headers })).id, token),
    close: () => {},
  };
}

function grpcJsCaller(address: string): ProtocolCaller {
  const client = createGrpcJsClient(TaskService, address);
  async function call<T>(run: (metadata: Record<string, string>) => Promise<T>, token: Credential): Promise<Outcome<T>> {
    try {
      return { ok: true, value: await run(headersFor(token)) };
    } catch (error) {
      const e = error as grpc.ServiceError;
      const challenge = e.metadata?.get("www-authenticate")[0];
      return { ok: false, code: e.code as number as Code, challenge: challenge === undefined ? null : String(challenge), message: e.details };
    }
  }
  const m = TaskService.method;
  return {
    name: "gRPC (grpc-js)",
    createTask: (token) => call(async (md) => (await grpcUnary(client, m.createTask, task(), md)).id, token),
    getTask: (id, token) => call(async (md) => (await grpcUnary(client, m.getTask, create(GetTaskRequestSchema, { id }), md)).id, token),
    listTasks: ({ pageSize, pageToken }, token) =>
      call(async (md) => {
        const page = await grpcUnary(client, m.listTasks, create(ListTasksRequestSchema, { pageSize: pageSize ?? 0, pageToken: pageToken ?? "" }), md);
        return { ids: page.tasks.map((t) => t.id), nextPageToken: page.nextPageToken };
      }, token),
    cancelTask: (id, token) => call(async (md) => void (await grpcUnary(client, m.cancelTask, create(CancelTaskRequestSchema, { id }), md)), token),
    getServiceInfo: (token) => call(async (md) => (await grpcUnary(client, m.getServiceInfo, create(GetServiceInfoRequestSchema), md)).id, token),
    close: () => client.close(),
  };
}
