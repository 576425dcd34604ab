import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import { AzureIdentityCredentialAdapter, WebResource, type ServiceClientCredentials } from "@azure/ms-rest-js";
import { startBatchEmulator, type BatchEmulator } from "./batch-emulator.js";
import type { BatchEmulatorOptions } from "./emulator-options.js";

/**
 * What the emulator's pinning tests share: the real @azure/batch 10.2.0 client pointed at the
 * emulator, a raw signed request for what the SDK cannot send, and Entra-shaped tokens.
 */
export const BATCH_SCOPE = "https://batch.core.windows.net//.default";

/** Emulator defaults for tests: autoscale limits small enough to exercise in seconds. */
export async function startTestEmulator(options: BatchEmulatorOptions = {}): Promise<BatchEmulator> {
  return startBatchEmulator({
    ...options,
    timing: { minAutoScaleEvaluationIntervalMs: 1000, enableAutoScaleSpacingMs: 0, ...options.timing },
  });
}

/** SharedKey client. `retries: false` removes ms-rest-js's retry policies (STACK.md §6: tests pass noRetryPolicy). */
export function sharedKeyClient(emulator: BatchEmulator, options: { key?: string; retries?: boolean } = {}): BatchServiceClient {
  const credentials = new BatchSharedKeyCredentials(emulator.accountName, options.key ?? emulator.accountKey);
  return new BatchServiceClient(credentials, emulator.url, { noRetryPolicy: options.retries !== true });
}

export function client(emulator: BatchEmulator, credentials: ServiceClientCredentials): BatchServiceClient {
  return new BatchServiceClient(credentials, emulator.url, { noRetryPolicy: true });
}

/** An unsigned JWT shaped like Entra's: the emulator checks audience and expiry, not the signature. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.${Buffer.from("signature").toString("base64url")}`;
}

/** A TokenCredential that issues a token for whatever scope it is asked, as Entra would. */
export function tokenCredential(options: { expiresInSeconds?: number } = {}) {
  const asked: string[] = [];
  return {
    asked,
    async getToken(scopes: string | string[]) {
      const scope = Array.isArray(scopes) ? (scopes[0] ?? "") : scopes;
      asked.push(scope);
      const audience = scope.replace(/\/\.default$/, "");
      const exp = Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600);
      return { token: fakeJwt({ aud: audience, exp, nbf: exp - 7200, iss: "https://sts.windows.net/tenant/" }), expiresOnTimestamp: exp * 1000 };
    },
  };
}

export function bearerClient(emulator: BatchEmulator, scope = BATCH_SCOPE): BatchServiceClient {
  return client(emulator, new AzureIdentityCredentialAdapter(tokenCredential(), scope));
}

export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

/** A request signed by the SDK's own BatchSharedKeyCredentials, for shapes the SDK never sends. */
export async function signedRequest(
  emulator: BatchEmulator,
  method: string,
  pathAndQuery: string,
  options: { body?: string; headers?: Record<string, string>; key?: string; sign?: boolean } = {},
): Promise<RawAnswer> {
  const url = `${emulator.url}${pathAndQuery}`;
  const headers: Record<string, string> = { "content-type": "application/json; odata=minimalmetadata; charset=utf-8", ...options.headers };
  if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
  else if (method === "POST") headers["content-length"] = "0";
  const resource = new WebResource(url, method as "GET", options.body, undefined, headers);
  if (options.sign !== false) await new BatchSharedKeyCredentials(emulator.accountName, options.key ?? emulator.accountKey).signRequest(resource);
  const response = await fetch(url, { method, headers: resource.headers.rawHeaders(), ...(options.body === undefined ? {} : { body: options.body }) });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export const API = "api-version=2022-10-01.16.0";

export function poolBody(id: string, extra: Partial<BatchServiceModels.PoolAddParameter> = {}): BatchServiceModels.PoolAddParameter {
  return {
    id,
    vmSize: "Standard_D2s_v3",
    virtualMachineConfiguration: {
      imageReference: { publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" },
      nodeAgentSKUId: "batch.node.ubuntu 22.04",
    },
    ...extra,
  };
}

/** Polls until `check` returns a value, or fails after `timeoutMs` with the last value seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The RestError fields a caller branches on. */
export async function failure(promise: Promise<unknown>): Promise<{ statusCode: number | undefined; code: string | undefined; body: unknown; headers: Record<string, string> }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; body?: unknown; response?: { headers?: { rawHeaders(): Record<string, string> } } };
    return { statusCode: e.statusCode, code: e.code, body: e.body, headers: e.response?.headers?.rawHeaders() ?? {} };
  }
  throw new Error("expected the call to fail");
}

export async function readStream(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (stream === undefined) return "";
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}
