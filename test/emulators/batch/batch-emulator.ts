import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Json, Quotas } from "./account-model.js";
import { startArmEndpoint, type ArmEndpoint } from "./arm-endpoint.js";
import { BatchAccount } from "./batch-account.js";
import { BatchError, errorBody, errors } from "./batch-error.js";
import { operations, type Operation, type OperationResponse } from "./batch-operations.js";
import { verifyBearer } from "./bearer-token.js";
import { CONTROL_PREFIX, handleControl } from "./control-api.js";
import { API_VERSION, DEFAULT_QUOTAS, DEFAULT_TIMING, type BatchEmulatorOptions } from "./emulator-options.js";
import { FaultPlan, type AddCollectionFault, type AllocationFault, type HttpFault, type TaskFault } from "./fault-plan.js";
import { verifySharedKey } from "./shared-key.js";

/**
 * An Azure Batch account on loopback: the data-plane REST API that @azure/batch 10.2.0 calls,
 * answered as the service answers it (shared/notes/AZURE-BATCH.md §8 "Emulator checklist"), with
 * each Batch task's command line run as a local process. README.md says what is emulated and what
 * is refused.
 */
export interface BatchEmulator {
  /** http://127.0.0.1:<port>: pass it to `new BatchServiceClient(credentials, url)`. */
  readonly url: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** Requests served, by operation name ("Task_AddCollection", ...); "Unknown" for unmatched paths. */
  counts(): Record<string, number>;
  resetCounts(): void;
  readonly faults: EmulatorFaults;
  /** The account's state, for assertions a Batch client could not make. */
  readonly account: BatchAccount;
  /** The account's Azure Resource Manager endpoint (pool create/get/delete), when started with `arm`. */
  readonly arm: ArmEndpoint | undefined;
  stop(): Promise<void>;
}

/** Fault injection and capacity control: not part of the Batch surface. */
export interface EmulatorFaults {
  /** Answer requests with 429/500/503 (+ Retry-After), or slow them down. */
  http(fault: HttpFault): void;
  /** The next allocation of a pool fails with this resize error (§5). */
  allocation(fault: AllocationFault): void;
  /** The next run of a matching task ends with this failureInfo instead of running (e.g. ContainerInvalidImage, §4). */
  task(fault: TaskFault): void;
  /** The next AddCollection answers serverError for its first N tasks. */
  addCollection(fault: AddCollectionFault): void;
  /** Preempt a low-priority node (the one running a task, else any); its running tasks go back to active. Returns the node id. */
  preemptNode(poolId: string, options?: { nodeId?: string; recoverAfterMs?: number }): string;
  /** A preempted node comes back (creating → starting → idle). */
  recoverNode(poolId: string, nodeId: string): void;
  /** Change the account's quotas (core quotas, pools, active jobs); lowering them does not remove nodes. */
  setQuotas(quotas: Partial<Quotas>): void;
  /** Evaluate a pool's autoscale formula now instead of at its next interval. */
  evaluateAutoScaleNow(poolId: string): void;
  clear(): void;
}

interface Route {
  operation: Operation;
  pattern: RegExp;
  names: string[];
}

function compileRoutes(): Route[] {
  return operations.map((operation) => {
    const names: string[] = [];
    const source = operation.path
      .split("/")
      .map((segment) => {
        const m = /^\{(\w+)(\+)?\}$/.exec(segment);
        if (m === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(m[1] as string);
        return m[2] === "+" ? "(.+)" : "([^/]+)";
      })
      .join("/");
    return { operation, pattern: new RegExp(`^${source}$`), names };
  });
}

function decodePath(raw: string): string {
  return raw
    .split("/")
    .map((segment) => decodeURIComponent(segment))
    .join("/");
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw errors.requestBodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startBatchEmulator(options: BatchEmulatorOptions = {}): Promise<BatchEmulator> {
  const accountName = options.accountName ?? "emulator";
  const accountKey = options.accountKey ?? randomBytes(64).toString("base64");
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const ownRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), "batch-emulator-")));
  const faults = new FaultPlan();
  const counts = new Map<string, number>();
  const routes = compileRoutes();
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  let baseUrl = "";
  const account = new BatchAccount({
    accountName,
    baseUrl: () => baseUrl,
    rootDir,
    quotas: { ...DEFAULT_QUOTAS, ...options.quotas },
    vmSizeCores: options.vmSizeCores ?? {},
    timing,
    baseEnv: options.baseEnv ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: process.env.LANG ?? "C.UTF-8" },
    ...(options.wrapCommand === undefined ? {} : { wrapCommand: options.wrapCommand }),
    shuffleAddCollectionResults: options.shuffleAddCollectionResults ?? true,
    faults,
    poolIdentities: new Set((options.poolIdentities ?? []).map((id) => id.toLowerCase())),
  });

  const authenticate = (req: IncomingMessage, rawPath: string, rawQuery: string) => {
    const authorization = req.headers.authorization;
    if (authorization === undefined || authorization === "") {
      // The status for a missing header is unconfirmed (§1); refused like a bad signature.
      throw errors.authenticationFailed({ key: "AuthenticationErrorDetail", value: "The request has no Authorization header." });
    }
    if (authorization.startsWith("SharedKey ")) {
      if (options.sharedKey === false) {
        throw errors.authenticationFailed({ key: "AuthenticationErrorDetail", value: "The specified type of authentication SharedKey is not allowed for this account." });
      }
      const verdict = verifySharedKey(
        authorization,
        { method: req.method ?? "GET", rawPath, rawQuery, headers: req.headers },
        { name: accountName, key: accountKey },
        { now: new Date(), maxClockSkewMs: timing.maxClockSkewMs },
      );
      if (verdict.ok) return;
      if (verdict.reason === "malformed") throw errors.invalidAuthenticationInfo({ key: "AuthenticationErrorDetail", value: verdict.detail });
      throw errors.authenticationFailed({ key: "AuthenticationErrorDetail", value: verdict.detail });
    }
    if (authorization.startsWith("Bearer ")) {
      if (options.bearer === false) {
        throw errors.authenticationFailed({ key: "AuthenticationErrorDetail", value: "Microsoft Entra authentication is not allowed for this account." });
      }
      const verdict = verifyBearer(authorization.slice("Bearer ".length).trim(), options.bearer ?? {}, new Date());
      if (!verdict.ok) throw errors.invalidAuthenticationToken({ key: "AuthenticationErrorDetail", value: verdict.detail });
      return;
    }
    throw errors.invalidAuthenticationInfo({ key: "AuthenticationErrorDetail", value: "The Authorization header names neither SharedKey nor Bearer." });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const now = new Date();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? "" : url.slice(q + 1);
    const query = new URLSearchParams(rawQuery);
    const common: Record<string, string> = { "request-id": requestId };
    const clientRequestId = req.headers["client-request-id"];
    if (req.headers["return-client-request-id"] === "true" && typeof clientRequestId === "string") common["client-request-id"] = clientRequestId;
    const errorJson = (err: BatchError): Json => errorBody(err, { requestId, now });
    const send = (answer: OperationResponse) => {
      const headers: Record<string, string> = { ...common, ...answer.headers };
      if (answer.json !== undefined && method !== "HEAD") {
        const text = JSON.stringify(answer.json);
        headers["Content-Type"] = "application/json;odata=minimalmetadata";
        headers.DataServiceVersion = "3.0";
        headers["Content-Length"] = String(Buffer.byteLength(text));
        res.writeHead(answer.status, headers);
        res.end(text);
      } else if (answer.stream !== undefined && method !== "HEAD") {
        res.writeHead(answer.status, headers);
        answer.stream.pipe(res);
      } else {
        answer.stream?.destroy();
        res.writeHead(answer.status, headers);
        res.end();
      }
    };
    const fail = (err: BatchError) => {
      const body = errorBody(err, { requestId, now, metadataUrl: `${baseUrl}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element` });
      // §8: HEAD answers carry no body.
      send({ status: err.status, headers: err.headers, ...(method === "HEAD" ? {} : { json: body }) });
    };

    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of routes) {
      if (candidate.operation.method !== method) continue;
      match = candidate.pattern.exec(rawPath);
      if (match !== null) {
        route = candidate;
        break;
      }
    }
    const name = route?.operation.name ?? "Unknown";
    counts.set(name, (counts.get(name) ?? 0) + 1);
    let after: HttpFault | undefined;
    try {
      authenticate(req, rawPath, rawQuery);
      const apiVersion = query.get("api-version");
      if (apiVersion === null) throw errors.missingRequiredQueryParameter({ key: "QueryParameterName", value: "api-version" });
      if (apiVersion !== API_VERSION) {
        throw errors.invalidQueryParameterValue({ key: "QueryParameterName", value: "api-version" }, { key: "QueryParameterValue", value: apiVersion }, { key: "Reason", value: `the emulator serves ${API_VERSION}` });
      }
      if (route === undefined || match === null) throw errors.invalidUri({ key: "Method", value: method }, { key: "Uri", value: rawPath });
      const operation = route.operation;
      for (const key of query.keys()) {
        if (key !== "api-version" && key !== "timeout" && !(operation.query ?? []).includes(key)) {
          throw errors.unsupportedQueryParameter({ key: "QueryParameterName", value: key });
        }
      }
      for (const conditional of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]) {
        if (req.headers[conditional] !== undefined && !(operation.conditionalHeaders ?? []).includes(conditional)) {
          throw errors.unsupportedHeader({ key: "HeaderName", value: conditional }, { key: "Reason", value: "conditional requests are not emulated" });
        }
      }
      const fault = faults.takeHttp(operation.name);
      if (fault?.delayMs !== undefined) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault?.status !== undefined) {
        if ((fault.when ?? "before") === "before") throw faultError(fault);
        after = fault;
      }
      let body: Json = {};
      const raw = await readBody(req, Math.min(maxBodyBytes, operation.maxBodyBytes ?? maxBodyBytes));
      if (operation.body === true && raw.length > 0) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString("utf8"));
        } catch {
          throw errors.invalidRequestBody({ key: "Reason", value: "the body is not valid JSON" });
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw errors.invalidRequestBody({ key: "Reason", value: "the body must be a JSON object" });
        }
        body = parsed as Json;
      }
      const params: Record<string, string> = {};
      route.names.forEach((paramName, i) => {
        params[paramName] = decodePath(match?.[i + 1] ?? "");
      });
      const answer = await operation.handle(account, { params, query, rawPath, body, headers: req.headers, baseUrl, errorJson });
      if (after !== undefined) {
        answer.stream?.destroy();
        throw faultError(after);
      }
      send(answer);
    } catch (err) {
      if (err instanceof BatchError) fail(err);
      else {
        fail(errors.internalError({ key: "Reason", value: err instanceof Error ? err.message : String(err) }));
      }
    }
  };

  const countsSnapshot = () => Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const faultHandle: EmulatorFaults = {
    http: (fault) => faults.addHttp(fault),
    allocation: (fault) => faults.addAllocation(fault),
    task: (fault) => faults.addTask(fault),
    addCollection: (fault) => faults.addAddCollection(fault),
    preemptNode: (poolId, preemptOptions = {}) => account.preemptNode(poolId, preemptOptions.nodeId, preemptOptions.recoverAfterMs),
    recoverNode: (poolId, nodeId) => account.recoverNode(poolId, nodeId),
    setQuotas: (quotas) => account.setQuotas(quotas),
    evaluateAutoScaleNow: (poolId) => account.evaluateAutoScaleNow(poolId),
    clear: () => faults.clear(),
  };
  const server = createServer((req, res) => {
    const work = options.controlApi === true && (req.url ?? "").startsWith(CONTROL_PREFIX) ? handleControl(req, res, { counts: countsSnapshot, faults: faultHandle }) : handle(req, res);
    work.catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;
  const arm =
    options.arm === undefined || options.arm === false
      ? undefined
      : await startArmEndpoint(account, { options: options.arm === true ? {} : options.arm, faults, count: (name) => counts.set(name, (counts.get(name) ?? 0) + 1) });
  account.start();

  return {
    url: baseUrl,
    accountName,
    accountKey,
    account,
    arm,
    counts: countsSnapshot,
    resetCounts: () => counts.clear(),
    faults: faultHandle,
    async stop() {
      await account.stop();
      await arm?.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownRoot) await rm(rootDir, { recursive: true, force: true });
    },
  };
}

function faultError(fault: HttpFault): BatchError {
  const status = fault.status ?? 500;
  const base = status === 429 ? errors.tooManyRequests() : status === 503 ? errors.serverBusy() : errors.internalError();
  const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { "Retry-After": String(fault.retryAfterSeconds) };
  return new BatchError(status, fault.code ?? base.code, base.message, [], headers);
}
