import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { AzureIdentityCredentialAdapter, TokenCredentials, WebResource } from "@azure/ms-rest-js";
import type { BatchEmulator } from "./batch-emulator.js";
import { stringToSign } from "./shared-key.js";
import {
  API,
  bearerClient,
  client,
  failure,
  fakeJwt,
  poolBody,
  sharedKeyClient,
  signedRequest,
  startTestEmulator,
  readStream,
  tokenCredential,
  waitFor,
} from "./sdk-test-helpers.js";

// Pins the emulator's authentication and wire conventions to shared/notes/AZURE-BATCH.md §1 and §2.
describe("Batch emulator: authentication and wire conventions", () => {
  let emulator: BatchEmulator;
  before(async () => {
    emulator = await startTestEmulator();
  });
  after(async () => {
    await emulator.stop();
  });

  test("the string to sign is built exactly as §1's SDK probe shows", () => {
    // §1 "Signed by the SDK in the probe": every request signs a Content-Type, ocp-date, the
    // account + raw path, then decoded query parameters sorted by name ($ before a).
    const text = stringToSign("acct", {
      method: "GET",
      rawPath: "/jobs/j1/tasks",
      rawQuery: "api-version=2022-10-01.16.0&%24filter=state%20eq%20%27completed%27&%24select=state%2Cid",
      headers: { "content-type": "application/json; charset=utf-8", "ocp-date": "Fri, 17 Feb 2017 00:00:00 GMT" },
    });
    assert.equal(
      text,
      "GET\n\n\n\n\napplication/json; charset=utf-8\n\n\n\n\n\n\nocp-date:Fri, 17 Feb 2017 00:00:00 GMT\n/acct/jobs/j1/tasks\n$filter:state eq 'completed'\n$select:state,id\napi-version:2022-10-01.16.0",
    );
  });

  test("SharedKey requests signed by BatchSharedKeyCredentials are accepted, with a request-id", async () => {
    const batch = sharedKeyClient(emulator);
    const answer = await batch.pool.add(poolBody("auth-ok"));
    // §2 "Response headers": request-id (a GUID) always.
    assert.match(answer.requestId ?? "", /^[0-9a-f-]{36}$/);
    // §3 Pool Add: 201, ETag + Last-Modified + DataServiceId.
    assert.equal(answer._response.status, 201);
    assert.match(answer.eTag ?? "", /^0x[0-9A-F]+$/);
    assert.ok(answer.lastModified instanceof Date);
    assert.equal(answer.dataServiceId, `${emulator.url}/pools/auth-ok`);
  });

  test("a bad signature is refused with 403 AuthenticationFailed and an AuthenticationErrorDetail", async () => {
    const wrongKey = Buffer.alloc(64, 7).toString("base64");
    const err = await failure(sharedKeyClient(emulator, { key: wrongKey }).pool.get("auth-ok"));
    // §1 "Failures": 403 AuthenticationFailed with values[{key:"AuthenticationErrorDetail"}].
    assert.equal(err.statusCode, 403);
    assert.equal(err.code, "AuthenticationFailed");
    const body = err.body as { values?: { key: string; value: string }[]; message?: { lang: string; value: string } };
    assert.equal(body.values?.[0]?.key, "AuthenticationErrorDetail");
    assert.match(body.message?.value ?? "", /^Server failed to authenticate the request\..*\nRequestId:[0-9a-f-]{36}\nTime:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/s);
  });

  test("a signature over a tampered query is refused", async () => {
    // Sign one query, send another: the canonicalized resource covers the query (§1 row 14).
    const answer = await signedRequest(emulator, "GET", `/pools?${API}&maxresults=5`);
    assert.equal(answer.status, 200);
    const tampered = await fetch(`${emulator.url}/pools?${API}&maxresults=6`, {
      headers: Object.fromEntries([...(await signedHeaders(emulator, `/pools?${API}&maxresults=5`)).entries()]),
    });
    assert.equal(tampered.status, 403);
    assert.equal(((await tampered.json()) as { code: string }).code, "AuthenticationFailed");
  });

  test("an ocp-date more than 15 minutes off is refused", async () => {
    const stale = new Date(Date.now() - 16 * 60_000).toUTCString();
    const answer = await signedRequest(emulator, "GET", `/pools?${API}`, { headers: { "ocp-date": stale } });
    assert.equal(answer.status, 403);
    assert.equal(answer.json?.code, "AuthenticationFailed");
  });

  test("a malformed SharedKey header gets 400 InvalidAuthenticationInfo", async () => {
    const response = await fetch(`${emulator.url}/pools?${API}`, { headers: { authorization: "SharedKey no-signature-here", "ocp-date": new Date().toUTCString() } });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, "InvalidAuthenticationInfo");
  });

  test("a request without api-version gets 400 MissingRequiredQueryParameter naming it", async () => {
    const answer = await signedRequest(emulator, "GET", "/pools");
    // §2 "Base URL": 400 MissingRequiredQueryParameter, values [{QueryParameterName: api-version}].
    assert.equal(answer.status, 400);
    assert.equal(answer.json?.code, "MissingRequiredQueryParameter");
    assert.deepEqual(answer.json?.values, [{ key: "QueryParameterName", value: "api-version" }]);
    assert.match(String(answer.json?.["odata.metadata"]), /\$metadata#Microsoft\.Azure\.Batch\.Protocol\.Entities\.Container\.errors\/@Element$/);
  });

  test("client-request-id is echoed only when return-client-request-id is true", async () => {
    // §2 "Response headers": client-request-id only if the request sent return-client-request-id: true.
    const id = "5d2b1e0c-4c8a-4b8e-9f52-1f0f3c1a2b3c";
    const asked = await signedRequest(emulator, "GET", `/pools?${API}`, { headers: { "client-request-id": id, "return-client-request-id": "true" } });
    assert.equal(asked.headers.get("client-request-id"), id);
    assert.match(asked.headers.get("request-id") ?? "", /^[0-9a-f-]{36}$/);
    const notAsked = await signedRequest(emulator, "GET", `/pools?${API}`, { headers: { "client-request-id": id } });
    assert.equal(notAsked.headers.get("client-request-id"), null);
  });

  test("a bearer token for the Batch audience is accepted (AzureIdentityCredentialAdapter with the Batch scope)", async () => {
    const credential = tokenCredential();
    const batch = client(emulator, new AzureIdentityCredentialAdapter(credential, "https://batch.core.windows.net//.default"));
    const pool = await batch.pool.get("auth-ok");
    assert.equal(pool.id, "auth-ok");
    assert.deepEqual(credential.asked, ["https://batch.core.windows.net//.default"]);
    assert.equal((await bearerClient(emulator).job.list()).length, 0);
  });

  test("a TokenCredential passed straight to BatchServiceClient asks for the management scope and is refused", async () => {
    // §1 "SDK trap": the default adapter scope is https://management.azure.com/.default, the wrong audience.
    const credential = tokenCredential();
    const batch = new BatchServiceClient(credential as never, emulator.url, { noRetryPolicy: true });
    const err = await failure(batch.pool.get("auth-ok"));
    assert.deepEqual(credential.asked, ["https://management.azure.com/.default"]);
    assert.equal(err.statusCode, 401);
    assert.equal(err.code, "InvalidAuthenticationToken");
  });

  test("an expired or non-JWT bearer token is refused", async () => {
    const expired = fakeJwt({ aud: "https://batch.core.windows.net/", exp: Math.floor(Date.now() / 1000) - 60 });
    assert.equal((await failure(client(emulator, new TokenCredentials(expired)).pool.list())).statusCode, 401);
    assert.equal((await failure(client(emulator, new TokenCredentials("opaque-token")).pool.list())).statusCode, 401);
  });

  test("a request with no Authorization header is refused", async () => {
    const response = await fetch(`${emulator.url}/pools?${API}`);
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { code: string }).code, "AuthenticationFailed");
  });

  test("an unknown path gets 400 InvalidUri and an unknown query parameter 400 UnsupportedQueryParameter", async () => {
    assert.equal((await signedRequest(emulator, "GET", `/nosuchthing?${API}`)).json?.code, "InvalidUri");
    const answer = await signedRequest(emulator, "GET", `/pools?${API}&color=blue`);
    assert.equal(answer.status, 400);
    assert.equal(answer.json?.code, "UnsupportedQueryParameter");
  });

  test("every operation the backend uses answers a bearer-token client with its documented status", async () => {
    // §3's success statuses, this time through AzureIdentityCredentialAdapter with the Batch scope.
    const batch = bearerClient(emulator);
    const status = (answer: { _response: { status: number } }) => answer._response.status;
    emulator.resetCounts();
    assert.equal(status(await batch.pool.add(poolBody("bearer-pool", { targetDedicatedNodes: 1 }))), 201);
    assert.equal((await batch.pool.get("bearer-pool")).id, "bearer-pool");
    assert.equal((await batch.pool.exists("bearer-pool")).body, true);
    assert.ok((await batch.pool.list()).some((p) => p.id === "bearer-pool"));
    await waitFor("steady", async () => ((await batch.pool.get("bearer-pool")).allocationState === "steady" ? true : undefined));
    const [node] = await batch.computeNode.list("bearer-pool");
    assert.equal((await batch.computeNode.get("bearer-pool", node?.id ?? "")).id, node?.id);
    assert.equal(status(await batch.pool.resize("bearer-pool", { targetDedicatedNodes: 1 })), 202);
    await waitFor("steady", async () => ((await batch.pool.get("bearer-pool")).allocationState === "steady" ? true : undefined));
    assert.equal(status(await batch.job.add({ id: "bearer-job", poolInfo: { poolId: "bearer-pool" } })), 201);
    assert.equal((await batch.job.get("bearer-job")).id, "bearer-job");
    assert.deepEqual((await batch.job.list({ jobListOptions: { filter: "executionInfo/poolId eq 'bearer-pool'", select: "id" } })).map((j) => j.id), ["bearer-job"]);
    assert.equal(status(await batch.task.add("bearer-job", { id: "b-1", commandLine: "echo bearer" })), 201);
    assert.equal(status(await batch.task.addCollection("bearer-job", [{ id: "b-2", commandLine: "sleep 30" }])), 200);
    await waitFor("b-1 done", async () => ((await batch.task.get("bearer-job", "b-1")).state === "completed" ? true : undefined));
    assert.equal((await batch.task.list("bearer-job", { taskListOptions: { select: "id" } })).length, 2);
    assert.equal(await readStream((await batch.file.getFromTask("bearer-job", "b-1", "stdout.txt")).readableStreamBody), "bearer\n");
    assert.equal((await batch.file.getPropertiesFromTask("bearer-job", "b-1", "stdout.txt")).contentLength, 7);
    assert.ok((await batch.file.listFromTask("bearer-job", "b-1")).some((f) => f.name === "stdout.txt"));
    assert.equal((await batch.job.getTaskCounts("bearer-job")).taskCounts.completed, 1);
    assert.equal(status(await batch.task.terminate("bearer-job", "b-2")), 204);
    assert.equal(status(await batch.task.deleteMethod("bearer-job", "b-2")), 200);
    assert.equal(status(await batch.job.terminate("bearer-job")), 202);
    assert.equal(status(await batch.job.deleteMethod("bearer-job")), 202);
    assert.equal(status(await batch.pool.enableAutoScale("bearer-pool", { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT5M" })), 200);
    assert.match((await batch.pool.evaluateAutoScale("bearer-pool", "$TargetDedicatedNodes = 0;")).results ?? "", /^\$TargetDedicatedNodes=0;/);
    assert.equal(status(await batch.pool.disableAutoScale("bearer-pool")), 200);
    assert.equal(status(await batch.pool.deleteMethod("bearer-pool")), 202);
    const counts = emulator.counts();
    for (const operation of ["Pool_Add", "Pool_Get", "Pool_Exists", "Pool_List", "Pool_Resize", "Pool_EnableAutoScale", "Pool_EvaluateAutoScale", "Pool_DisableAutoScale", "Pool_Delete", "ComputeNode_List", "ComputeNode_Get", "Job_Add", "Job_Get", "Job_List", "Job_GetTaskCounts", "Job_Terminate", "Job_Delete", "Task_Add", "Task_AddCollection", "Task_List", "Task_Get", "Task_Terminate", "Task_Delete", "File_GetFromTask", "File_GetPropertiesFromTask", "File_ListFromTask"]) {
      assert.ok((counts[operation] ?? 0) > 0, `${operation} was exercised`);
    }
  });

  test("requests are counted by operation", async () => {
    emulator.resetCounts();
    const batch = sharedKeyClient(emulator);
    await batch.pool.get("auth-ok");
    await batch.pool.get("auth-ok");
    await batch.job.list();
    assert.deepEqual(emulator.counts(), { Job_List: 1, Pool_Get: 2 });
  });
});

async function signedHeaders(emulator: BatchEmulator, pathAndQuery: string): Promise<Map<string, string>> {
  const resource = new WebResource(`${emulator.url}${pathAndQuery}`, "GET", undefined, undefined, { "content-type": "application/json; charset=utf-8" });
  await new BatchSharedKeyCredentials(emulator.accountName, emulator.accountKey).signRequest(resource);
  return new Map(Object.entries(resource.headers.rawHeaders()));
}
