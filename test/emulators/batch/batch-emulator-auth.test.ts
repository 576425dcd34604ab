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
  tokenCredential,
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
