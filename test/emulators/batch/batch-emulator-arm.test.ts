import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { BatchManagementClient, type Pool } from "@azure/arm-batch";
import type { BatchServiceClient } from "@azure/batch";
import { ARM_API_VERSION } from "./arm-endpoint.js";
import type { BatchEmulator } from "./batch-emulator.js";
import { fakeJwt, sharedKeyClient, startTestEmulator, tokenCredential, waitFor } from "./sdk-test-helpers.js";

/**
 * Pins the emulator's ARM pool resource (Microsoft.Batch/batchAccounts/pools) to what the ARM Batch
 * REST specification (as @azure/arm-batch 9.1.0 encodes it: api-version 2023-11-01, Pool_Create
 * 200, Pool_Delete 200/202/204, CloudError bodies) and ARM's documented authentication errors say,
 * and to shared/notes/AZURE-BATCH.md §5 "Identity for ACR": an ARM pool carries user-assigned
 * identities, and a registry's identityReference must name one of them. Choices where no source
 * settles the service's answer are listed in README.md "ARM pools" as unconfirmed.
 */
const ACR_PULL = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull";
const OTHER = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other";

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: { error?: { code?: string; message?: string; target?: string } } & Record<string, unknown>;
}

describe("Batch emulator: ARM pools", () => {
  let emulator: BatchEmulator;
  let arm: BatchManagementClient;
  let batch: BatchServiceClient;
  let credential: ReturnType<typeof tokenCredential>;
  let accountPath: string;

  before(async () => {
    emulator = await startTestEmulator({ arm: true });
    credential = tokenCredential();
    const endpoint = emulator.arm!;
    arm = new BatchManagementClient(credential, endpoint.subscriptionId, {
      endpoint: endpoint.url,
      // With an endpoint of its own the SDK would ask for "<endpoint>/.default"; ARM's audience is management.azure.com.
      credentialScopes: ["https://management.azure.com/.default"],
      tlsOptions: { ca: endpoint.ca },
      retryOptions: { maxRetries: 0 },
    });
    batch = sharedKeyClient(emulator);
    accountPath = `/subscriptions/${endpoint.subscriptionId}/resourceGroups/${endpoint.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${emulator.accountName}`;
  });
  after(async () => {
    await emulator.stop();
  });

  /** The RestError fields of a failed ARM SDK call. */
  async function failure(promise: Promise<unknown>): Promise<{ statusCode: number | undefined; code: string | undefined }> {
    try {
      await promise;
    } catch (err) {
      const e = err as { statusCode?: number; code?: string };
      return { statusCode: e.statusCode, code: e.code };
    }
    throw new Error("expected the call to fail");
  }

  const token = (aud = "https://management.azure.com/", expiresIn = 3600) => fakeJwt({ aud, exp: Math.floor(Date.now() / 1000) + expiresIn });

  function raw(method: string, path: string, options: { body?: unknown; authorization?: string | null; headers?: Record<string, string> } = {}): Promise<Raw> {
    const endpoint = emulator.arm!;
    const text = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (options.authorization !== null) headers.Authorization = options.authorization ?? `Bearer ${token()}`;
    if (text !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(text));
    }
    return new Promise((resolve, reject) => {
      const req = request(`${endpoint.url}${path}`, { method, headers, ca: endpoint.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: body === "" ? {} : (JSON.parse(body) as Raw["json"]) });
        });
      });
      req.on("error", reject);
      req.end(text);
    });
  }

  const poolPath = (id: string, apiVersion: string | null = ARM_API_VERSION) => `${accountPath}/pools/${id}${apiVersion === null ? "" : `?api-version=${apiVersion}`}`;

  const armPool = (registries: object[], identities: string[] | undefined, extra: Partial<Pool> = {}): Pool => ({
    vmSize: "Standard_D2s_v3",
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: { publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" },
        nodeAgentSkuId: "batch.node.ubuntu 22.04",
        containerConfiguration: { type: "DockerCompatible", containerImageNames: ["myacr.azurecr.io/runner:1"], containerRegistries: registries },
      },
    },
    scaleSettings: { autoScale: { formula: "$TargetDedicatedNodes = 0;", evaluationInterval: "PT5M" } },
    startTask: { commandLine: "/bin/true", waitForSuccess: true, maxTaskRetryCount: 1, userIdentity: { autoUser: { scope: "Pool", elevationLevel: "Admin" } } },
    ...(identities === undefined ? {} : { identity: { type: "UserAssigned", userAssignedIdentities: Object.fromEntries(identities.map((id) => [id, {}])) } }),
    ...extra,
  });

  test("Pool_Create (PUT) answers 200 with the pool and its identities; the data plane sees the same pool, identity and registries", async () => {
    const created = await arm.poolOperations.create(emulator.arm!.resourceGroup, emulator.accountName, "arm-acr", armPool([{ registryServer: "myacr.azurecr.io", identityReference: { resourceId: ACR_PULL } }], [ACR_PULL]));
    assert.equal(created.name, "arm-acr");
    assert.equal(created.type, "Microsoft.Batch/batchAccounts/pools");
    assert.equal(created.provisioningState, "Succeeded");
    assert.deepEqual(Object.keys(created.identity?.userAssignedIdentities ?? {}), [ACR_PULL]);
    assert.match(created.identity?.userAssignedIdentities?.[ACR_PULL]?.principalId ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(created.scaleSettings?.autoScale?.formula, "$TargetDedicatedNodes = 0;");
    assert.ok(created.etag !== undefined);
    assert.deepEqual(credential.asked, ["https://management.azure.com/.default"], "the SDK asks for the ARM scope");

    const seen = await batch.pool.get("arm-acr");
    assert.equal(seen.identity?.type, "UserAssigned");
    assert.deepEqual(seen.identity?.userAssignedIdentities?.map((i) => i.resourceId), [ACR_PULL]);
    assert.equal(seen.identity?.userAssignedIdentities?.[0]?.principalId, created.identity?.userAssignedIdentities?.[ACR_PULL]?.principalId);
    assert.deepEqual(seen.virtualMachineConfiguration?.containerConfiguration?.containerRegistries, [{ registryServer: "myacr.azurecr.io", identityReference: { resourceId: ACR_PULL } }]);
    assert.equal(seen.virtualMachineConfiguration?.nodeAgentSKUId, "batch.node.ubuntu 22.04");
    assert.equal(seen.enableAutoScale, true);
    assert.equal(seen.autoScaleEvaluationInterval, "PT5M");
    assert.equal(seen.startTask?.commandLine, "/bin/true");

    const got = await arm.poolOperations.get(emulator.arm!.resourceGroup, emulator.accountName, "arm-acr");
    assert.equal(got.vmSize, "Standard_D2s_v3");
    assert.equal(got.deploymentConfiguration?.virtualMachineConfiguration?.containerConfiguration?.containerRegistries?.[0]?.identityReference?.resourceId, ACR_PULL);

    const direct = await raw("PUT", poolPath("arm-plain"), { body: { properties: { vmSize: "Standard_D2s_v3", deploymentConfiguration: armPool([], undefined).deploymentConfiguration } } });
    assert.equal(direct.status, 200, "Pool_Create lists 200 only");
    assert.equal((direct.json.properties as { scaleSettings?: unknown }).scaleSettings !== undefined, true);
    assert.deepEqual((direct.json.properties as { scaleSettings: unknown }).scaleSettings, { fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0, resizeTimeout: "PT15M" } }, "no scaleSettings: fixed at 0 nodes");
  });

  test("an identityReference to an identity the pool does not get is refused: 400 with an ARM error naming the property", async () => {
    const err = await failure(arm.poolOperations.create(emulator.arm!.resourceGroup, emulator.accountName, "arm-other", armPool([{ registryServer: "myacr.azurecr.io", identityReference: { resourceId: OTHER } }], [ACR_PULL])));
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, "InvalidPropertyValue");
    const answer = await raw("PUT", poolPath("arm-other"), { body: { identity: { type: "UserAssigned", userAssignedIdentities: { [ACR_PULL]: {} } }, properties: armPool([{ registryServer: "myacr.azurecr.io", identityReference: { resourceId: OTHER } }], undefined) } });
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error?.target, "properties.deploymentConfiguration.virtualMachineConfiguration.containerConfiguration.containerRegistries[0].identityReference.resourceId");
    assert.match(answer.json.error?.message ?? "", /is not an identity of this pool/);
    assert.equal(emulator.account.pools.has("arm-other"), false, "nothing was created");
  });

  test("identity: UserAssigned needs identities given by resource id, None takes none; unemulated properties are refused, not ignored", async () => {
    const base = armPool([], undefined);
    const cases: [object, number, string, string][] = [
      [{ identity: { type: "UserAssigned" }, properties: base }, 400, "InvalidRequestContent", "identity.userAssignedIdentities"],
      [{ identity: { type: "UserAssigned", userAssignedIdentities: { "acr-pull": {} } }, properties: base }, 400, "InvalidRequestContent", "identity.userAssignedIdentities['acr-pull']"],
      [{ identity: { type: "None", userAssignedIdentities: { [ACR_PULL]: {} } }, properties: base }, 400, "InvalidRequestContent", "identity.userAssignedIdentities"],
      [{ identity: { type: "SystemAssigned" }, properties: base }, 400, "InvalidRequestContent", "identity.type"],
      [{ properties: { ...base, networkConfiguration: {} } }, 400, "UnsupportedProperty", "properties.networkConfiguration"],
      [{ properties: { ...base, nodeAgentSKUId: "x" } }, 400, "InvalidRequestContent", "properties.nodeAgentSKUId"],
      [{ properties: { ...base, scaleSettings: { autoScale: { formula: "$TargetDedicatedNodes = 0;" }, fixedScale: {} } } }, 400, "InvalidRequestContent", "properties.scaleSettings"],
      [{ properties: { ...base, vmSize: undefined } }, 400, "MissingRequiredProperty", "properties.vmSize"],
    ];
    for (const [body, status, code, target] of cases) {
      const answer = await raw("PUT", poolPath("arm-invalid"), { body });
      assert.equal(answer.status, status, JSON.stringify(body));
      assert.equal(answer.json.error?.code, code, JSON.stringify(answer.json));
      assert.equal(answer.json.error?.target, target);
    }
    assert.equal(emulator.account.pools.has("arm-invalid"), false);
  });

  test("an existing pool: If-None-Match * answers 412, the same PUT again 200, a different one 409; nothing changes", async () => {
    const body = { identity: { type: "UserAssigned", userAssignedIdentities: { [ACR_PULL]: {} } }, properties: armPool([], undefined) };
    assert.equal((await raw("PUT", poolPath("arm-twice"), { body })).status, 200);
    const etag = emulator.account.pools.get("arm-twice")?.eTag;
    const again = await raw("PUT", poolPath("arm-twice"), { body, headers: { "If-None-Match": "*" } });
    assert.equal(again.status, 412);
    assert.equal(again.json.error?.code, "PreconditionFailed");
    assert.equal((await raw("PUT", poolPath("arm-twice"), { body })).status, 200);
    const changed = await raw("PUT", poolPath("arm-twice"), { body: { ...body, properties: { ...body.properties, vmSize: "Standard_D4s_v3" } } });
    assert.equal(changed.status, 409);
    assert.equal(emulator.account.pools.get("arm-twice")?.vmSize, "Standard_D2s_v3");
    assert.equal(emulator.account.pools.get("arm-twice")?.eTag, etag);
  });

  test("GET of a missing pool: 404 with an ARM error body; DELETE: 202, the pool deleting then gone, and 204 once gone", async () => {
    const missing = await raw("GET", poolPath("arm-none"));
    assert.equal(missing.status, 404);
    assert.equal(typeof missing.json.error?.code, "string");
    assert.equal(typeof missing.json.error?.message, "string");
    assert.ok(typeof missing.headers["x-ms-request-id"] === "string");
    assert.equal((await raw("PUT", poolPath("arm-delete"), { body: { properties: armPool([], undefined) } })).status, 200);
    const deleting = await raw("DELETE", poolPath("arm-delete"));
    assert.equal(deleting.status, 202);
    assert.equal((await raw("GET", poolPath("arm-delete"))).json.properties !== undefined, true);
    await waitFor("the pool to go", () => (emulator.account.pools.has("arm-delete") ? undefined : true));
    assert.equal((await raw("DELETE", poolPath("arm-delete"))).status, 204);
  });

  test("authentication: no token, a token for Batch instead of ARM, an expired token, a malformed one: 401 with ARM's codes and WWW-Authenticate", async () => {
    const cases: [string | null, string][] = [
      [null, "AuthenticationFailed"],
      ["Basic abc", "AuthenticationFailed"],
      [`Bearer ${token("https://batch.core.windows.net/")}`, "InvalidAuthenticationTokenAudience"],
      [`Bearer ${token("https://management.azure.com/", -60)}`, "ExpiredAuthenticationToken"],
      ["Bearer not-a-jwt", "InvalidAuthenticationToken"],
    ];
    for (const [authorization, code] of cases) {
      const answer = await raw("GET", poolPath("arm-acr"), { authorization });
      assert.equal(answer.status, 401, String(authorization));
      assert.equal(answer.json.error?.code, code);
      assert.match(String(answer.headers["www-authenticate"]), /^Bearer /);
      if (code === "InvalidAuthenticationTokenAudience") assert.match(answer.json.error?.message ?? "", /wrong audience or resource 'https:\/\/batch\.core\.windows\.net\/'/);
    }
    assert.equal((await raw("GET", poolPath("arm-acr"), { authorization: `Bearer ${token("https://management.core.windows.net/")}` })).status, 200, "the classic audience is accepted too");
  });

  test("api-version is required and must be the one served; other subscriptions, groups and accounts are not found", async () => {
    const none = await raw("GET", poolPath("arm-acr", null));
    assert.equal(none.status, 400);
    assert.equal(none.json.error?.code, "MissingApiVersionParameter");
    const old = await raw("GET", poolPath("arm-acr", "2017-09-01"));
    assert.equal(old.status, 400);
    assert.equal(old.json.error?.code, "InvalidApiVersionParameter");
    const endpoint = emulator.arm!;
    const paths: [string, string][] = [
      [`/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/${endpoint.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${emulator.accountName}/pools/arm-acr`, "SubscriptionNotFound"],
      [`/subscriptions/${endpoint.subscriptionId}/resourceGroups/other-rg/providers/Microsoft.Batch/batchAccounts/${emulator.accountName}/pools/arm-acr`, "ResourceGroupNotFound"],
      [`/subscriptions/${endpoint.subscriptionId}/resourceGroups/${endpoint.resourceGroup}/providers/Microsoft.Batch/batchAccounts/otheraccount/pools/arm-acr`, "ParentResourceNotFound"],
    ];
    for (const [path, code] of paths) {
      const answer = await raw("GET", `${path}?api-version=${ARM_API_VERSION}`);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.json.error?.code, code);
    }
    // ARM paths are case-insensitive.
    assert.equal((await raw("GET", `${poolPath("arm-acr")}`.replace("/resourceGroups/", "/resourcegroups/").replace("Microsoft.Batch", "microsoft.batch"))).status, 200);
  });

  test("throttling: 429 with Retry-After and an ARM error body; the operation is counted by name", async () => {
    emulator.faults.http({ operation: "Arm_Pool_Get", status: 429, retryAfterSeconds: 3 });
    const before = emulator.counts().Arm_Pool_Get ?? 0;
    const throttled = await raw("GET", poolPath("arm-acr"));
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers["retry-after"], "3");
    assert.equal(throttled.json.error?.code, "TooManyRequests");
    assert.equal((await raw("GET", poolPath("arm-acr"))).status, 200);
    assert.equal(emulator.counts().Arm_Pool_Get, before + 2);
  });
});
