import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Json } from "./account-model.js";
import { ArmError, armErrorOf } from "./arm-error.js";
import { armPoolRequest, armPoolWire } from "./arm-pool-body.js";
import type { BatchAccount } from "./batch-account.js";
import { BatchError, errors } from "./batch-error.js";
import { verifyBearer, type BearerOptions } from "./bearer-token.js";
import type { FaultPlan, HttpFault } from "./fault-plan.js";
import { selfSignedCertificate } from "./self-signed-certificate.js";

/**
 * The Azure Resource Manager side of the emulated Batch account: the pool resource
 * `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Batch/batchAccounts/{account}/pools/{pool}`
 * (PUT create, GET, DELETE) at api-version 2023-11-01, the version @azure/arm-batch 9.1.0 sends.
 * A pool created here is a pool of the same account (the data plane sees it, runs its tasks) with
 * the identities ARM attaches. Served over TLS with a throw-away certificate (`ca`), because the
 * Azure SDK sends bearer tokens over https only. README.md "ARM pools" lists what is pinned and what
 * is unconfirmed.
 */
export const ARM_API_VERSION = "2023-11-01";
/** Audiences ARM accepts in a token (ARM's InvalidAuthenticationTokenAudience message lists these). */
export const ARM_AUDIENCES = ["https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com"] as const;

export interface ArmEndpointOptions {
  /** Default 00000000-0000-0000-0000-000000000000. */
  subscriptionId?: string;
  /** Default "emulator-rg". */
  resourceGroup?: string;
  /** An extra token check (signature, issuer), as for the data plane's bearer option. */
  verify?: BearerOptions["verify"];
}

export interface ArmEndpoint {
  /** https://127.0.0.1:<port>: the ARM endpoint (AZURE_BATCH_ARM_ENDPOINT). */
  readonly url: string;
  /** PEM of the endpoint's certificate: give it to the client as `tlsOptions.ca`. */
  readonly ca: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  stop(): Promise<void>;
}

const POOL_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)\/pools\/([^/]+)$/i;
const OPERATIONS: Record<string, string> = { PUT: "Arm_Pool_Create", GET: "Arm_Pool_Get", DELETE: "Arm_Pool_Delete" };
const MAX_BODY_BYTES = 4 * 1024 * 1024;

function unauthorized(code: string, message: string): ArmError {
  return new ArmError(401, code, message, undefined, {
    "WWW-Authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
  });
}

/** ARM's answers to a token it refuses (the codes ARM documents for each case; messages shortened). */
function authenticate(req: IncomingMessage, verify: BearerOptions["verify"]): void {
  const authorization = req.headers.authorization;
  if (authorization === undefined || authorization === "") throw unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
  if (!authorization.startsWith("Bearer ")) throw unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.");
  const token = authorization.slice("Bearer ".length).trim();
  const verdict = verifyBearer(token, { audiences: ARM_AUDIENCES, ...(verify === undefined ? {} : { verify }) }, new Date());
  if (verdict.ok) return;
  if (verdict.reason === "audience") {
    // A well-formed JWT here (verifyBearer checked that before the audience).
    const { aud } = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { aud?: unknown };
    throw unauthorized(
      "InvalidAuthenticationTokenAudience",
      `The access token has been obtained for wrong audience or resource '${String(aud)}'. It should exactly match with one of the allowed audiences '${ARM_AUDIENCES.join("','")}'.`,
    );
  }
  if (verdict.reason === "expired") throw unauthorized("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.");
  throw unauthorized("InvalidAuthenticationToken", `The access token is invalid. ${verdict.detail}`);
}

function faultError(fault: HttpFault): ArmError {
  const status = fault.status ?? 500;
  const code = fault.code ?? (status === 429 ? "TooManyRequests" : status === 503 ? "ServiceUnavailable" : "InternalServerError");
  const message = status === 429 ? "The request is being throttled. Please try again later." : "The service encountered an internal error. Please try again later.";
  return new ArmError(status, code, message, undefined, fault.retryAfterSeconds === undefined ? {} : { "Retry-After": String(fault.retryAfterSeconds) });
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ArmError(413, "RequestEntityTooLarge", `The request content exceeds ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text === "" ? "null" : text);
  } catch {
    throw new ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.");
  return parsed as Json;
}

export async function startArmEndpoint(
  account: BatchAccount,
  context: { options: ArmEndpointOptions; faults: FaultPlan; count(operation: string): void },
): Promise<ArmEndpoint> {
  const subscriptionId = context.options.subscriptionId ?? "00000000-0000-0000-0000-000000000000";
  const resourceGroup = context.options.resourceGroup ?? "emulator-rg";
  const accountPath = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Batch/batchAccounts/${account.config.accountName}`;
  const { key, cert } = selfSignedCertificate();

  const operate = async (req: IncomingMessage, method: string, poolName: string): Promise<{ status: number; json?: Json; headers?: Record<string, string> }> => {
    const existing = account.pools.get(poolName.toLowerCase());
    if (method === "GET") {
      if (existing === undefined) throw armErrorOf(errors.poolNotFound());
      return { status: 200, json: armPoolWire(existing, accountPath), headers: { ETag: `W/"${existing.eTag}"` } };
    }
    if (method === "DELETE") {
      // Deletion is asynchronous (the SDK's beginDelete); a pool that is not there is already deleted (204).
      if (existing === undefined) return { status: 204 };
      if (existing.state !== "deleting") account.deletePool(poolName);
      return { status: 202 };
    }
    const body = await readJson(req);
    if (req.headers["if-match"] !== undefined) throw new ArmError(400, "UnsupportedHeader", "If-Match (updating a pool only at a given ETag) is not emulated.");
    const ifNoneMatch = req.headers["if-none-match"];
    const request = armPoolRequest(poolName, body);
    if (existing !== undefined) {
      if (existing.state === "deleting") throw armErrorOf(errors.poolBeingDeleted());
      if (ifNoneMatch === "*") throw new ArmError(412, "PreconditionFailed", `The pool '${existing.id}' already exists, and If-None-Match: * allows creating it only.`);
      // A PUT repeating the pool as it is changes nothing; updating a pool through PUT is not emulated.
      const same = JSON.stringify([existing.armProperties, existing.identities]) === JSON.stringify([request.armProperties, request.identities]);
      if (!same) throw new ArmError(409, "Conflict", `The pool '${existing.id}' exists with other properties; updating a pool through PUT is not emulated.`);
      return { status: 200, json: armPoolWire(existing, accountPath), headers: { ETag: `W/"${existing.eTag}"` } };
    }
    const pool = account.addPool(request.addBody, { identities: request.identities, armProperties: request.armProperties });
    // Pool_Create answers 200 with the pool (the REST specification behind @azure/arm-batch lists no 201).
    return { status: 200, json: armPoolWire(pool, accountPath), headers: { ETag: `W/"${pool.eTag}"` } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const headers: Record<string, string> = { "x-ms-request-id": requestId, "x-ms-correlation-request-id": requestId };
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const method = req.method ?? "GET";
    const match = POOL_PATH.exec(url.pathname);
    const operation = match === null ? undefined : OPERATIONS[method];
    context.count(operation ?? "Arm_Unknown");
    const send = (status: number, json?: Json, extra: Record<string, string> = {}) => {
      const all = { ...headers, ...extra };
      if (json === undefined) {
        res.writeHead(status, all);
        res.end();
        return;
      }
      const text = JSON.stringify(json);
      res.writeHead(status, { ...all, "Content-Type": "application/json; charset=utf-8", "Content-Length": String(Buffer.byteLength(text)) });
      res.end(text);
    };
    let after: HttpFault | undefined;
    try {
      authenticate(req, context.options.verify);
      const apiVersion = url.searchParams.get("api-version");
      if (apiVersion === null) throw new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
      if (apiVersion !== ARM_API_VERSION) {
        throw new ArmError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid. The emulator serves '${ARM_API_VERSION}'.`);
      }
      if (match === null || operation === undefined) {
        throw new ArmError(404, "InvalidResourceType", `The emulator serves ${Object.keys(OPERATIONS).join(", ")} on Microsoft.Batch/batchAccounts/pools only; not ${method} ${url.pathname}.`);
      }
      const [, subscription = "", group = "", accountName = "", poolName = ""] = match;
      const fault = context.faults.takeHttp(operation);
      if (fault?.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault?.status !== undefined) {
        if ((fault.when ?? "before") === "before") throw faultError(fault);
        after = fault;
      }
      if (subscription.toLowerCase() !== subscriptionId.toLowerCase()) throw new ArmError(404, "SubscriptionNotFound", `The subscription '${subscription}' could not be found.`);
      if (group.toLowerCase() !== resourceGroup.toLowerCase()) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${group}' could not be found.`);
      if (decodeURIComponent(accountName).toLowerCase() !== account.config.accountName.toLowerCase()) {
        throw new ArmError(404, "ParentResourceNotFound", `Can not perform requested operation on nested resource. Parent resource '${accountName}' not found.`);
      }
      const answer = await operate(req, method, decodeURIComponent(poolName));
      if (after !== undefined) throw faultError(after);
      send(answer.status, answer.json, answer.headers);
    } catch (err) {
      const armError = err instanceof ArmError ? err : err instanceof BatchError ? armErrorOf(err) : new ArmError(500, "InternalServerError", err instanceof Error ? err.message : String(err));
      send(armError.status, armError.body(), armError.headers);
    }
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${address.port}`,
    ca: cert,
    subscriptionId,
    resourceGroup,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
