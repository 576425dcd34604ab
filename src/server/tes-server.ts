import type { DescService } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import type { ServerConfig } from "../config/server.js";
import { TaskService } from "../gen/ga4gh/tes/v1/tes_pb.js";
import * as reflectionV1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { hideInternalErrors, type InternalErrorReporter } from "../interceptors/hide-internal-errors.js";
import { contextValuesFor, wireProtocolOf } from "../interceptors/wire-protocol.js";
import { createReflection } from "../reflection/reflection-service.js";
import { HttpRefusal, restErrorReply } from "../rest/rest-error.js";
import { createRestHandler } from "../rest/rest-handler.js";
import { createCorsPolicy } from "./cors.js";
import { createOnePortListener, type EdgeRequest, type EdgeResponse } from "./one-port-listener.js";
// Before any reply is serialized: protobuf-es writes strings to UTF-8 through Node's Buffer (see the module).
import "./protobuf-utf8.js";
import { bindService, type ServiceBinding } from "./service-binding.js";

export interface TesServerOptions {
  /** Port, host, TLS, CORS, limits and timeouts: `loadServerConfig(process.env)`. */
  readonly config: ServerConfig;
  /** The TES API. */
  readonly taskService: ServiceImpl<typeof TaskService>;
  /** Other services to serve beside it on every protocol (REST where they carry google.api.http rules). */
  readonly extraServices?: readonly ServiceBinding[];
  /**
   * Auth, logging, limits...: run, first outermost, on every call of every protocol, REST
   * included. Errors they or the handlers throw that are not ConnectErrors reach clients as a
   * bare `internal` error.
   */
  readonly interceptors?: readonly Interceptor[];
  /** Told of every error hidden from a client (with its stack), to log it. */
  readonly onInternalError?: InternalErrorReporter;
  /**
   * Plain HTTP endpoints by exact path (`/healthz`, `/readyz`, `/metrics`): answered before CORS
   * and outside the interceptors, for platform probes and scrapers that carry no token.
   */
  readonly plainHttpRoutes?: ReadonlyMap<string, (req: EdgeRequest, res: EdgeResponse) => void>;
}

export interface TesServer {
  /** Binds config.port on config.host; resolves with the address actually bound. */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, lets calls in flight finish within config.limits.shutdownGraceMs. */
  close(): Promise<void>;
  /** The bound address, once listening. */
  address(): AddressInfo | undefined;
}

/**
 * The API on one port: gRPC, gRPC-Web and Connect (connect-node), TES REST/JSON (the transcoder,
 * from the google.api.http rules) and gRPC reflection, all through one interceptor chain.
 */
export function createTesServer(options: TesServerOptions): TesServer {
  const { config } = options;
  const services: ServiceBinding[] = [bindService(TaskService, options.taskService), ...(options.extraServices ?? [])];
  const interceptors: Interceptor[] = [hideInternalErrors(options.onInternalError), ...(options.interceptors ?? [])];
  const reflection = createReflection(services.map((s) => s.service));

  const rest = createRestHandler({
    services: services.map(({ service, impl }) => ({ service, impl: impl as Record<string, unknown> })),
    interceptors,
    maxRequestBodyBytes: config.limits.maxRequestBodyBytes,
  });
  const rpc = connectNodeAdapter({
    routes(router: ConnectRouter) {
      for (const { service, impl } of services) router.service(service as DescService, impl);
      router.service(reflectionV1.ServerReflection, reflection.v1);
      router.service(reflectionV1alpha.ServerReflection, reflection.v1alpha);
    },
    interceptors,
    readMaxBytes: config.limits.maxRequestBodyBytes,
    contextValues: (req) => contextValuesFor(wireProtocolOf(req.headers["content-type"])),
    // Paths that are not RPC procedures are REST; connect-node types its request/response narrower.
    fallback: rest as unknown as NonNullable<ConnectNodeAdapterOptions["fallback"]>,
  });
  const corsPolicy = createCorsPolicy(config.cors);
  const plainHttpRoutes = options.plainHttpRoutes ?? new Map();

  const handler = (req: EdgeRequest, res: EdgeResponse): void => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    if ((req.url ?? "").length > config.limits.maxUrlLength) {
      refuse(res, new HttpRefusal(414, Code.InvalidArgument, `the URL is longer than the limit of ${config.limits.maxUrlLength} characters`));
      return;
    }
    // HTTP/1.1's parser enforces maxHeaderSize itself; Node's h2 only advertises the limit.
    if (req.httpVersionMajor === 2 && headerListSize(req.rawHeaders) > config.limits.maxHeaderBytes) {
      refuse(res, new HttpRefusal(431, Code.ResourceExhausted, `the request headers are larger than the limit of ${config.limits.maxHeaderBytes} bytes`));
      return;
    }
    const plain = plainHttpRoutes.get(pathOf(req.url));
    if (plain !== undefined) {
      plain(req, res);
      return;
    }
    if (corsPolicy(req, res) === "answered") return;
    rpc(req, res);
  };

  let tls: { cert: Buffer; key: Buffer } | undefined;
  let listener: ReturnType<typeof createOnePortListener> | undefined;
  return {
    async listen() {
      if (config.tls !== undefined) {
        tls = { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) };
      }
      listener = createOnePortListener({ handler, limits: config.limits, tls });
      return listener.listen(config.port, config.host);
    },
    async close() {
      await listener?.close(config.limits.shutdownGraceMs);
    },
    address() {
      return listener?.address();
    },
  };
}

function pathOf(url: string | undefined): string {
  const target = url ?? "";
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
}

/** The size of a header list as HTTP/2 counts it (RFC 9113 §6.5.2): name + value + 32 per field. */
function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (const item of rawHeaders) size += item.length;
  return size + (rawHeaders.length / 2) * 32;
}

function refuse(res: EdgeResponse, error: HttpRefusal): void {
  const reply = restErrorReply(error);
  const json = JSON.stringify(reply.body);
  (res as import("node:http").ServerResponse).writeHead(reply.status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(json)),
  });
  res.end(json);
}
