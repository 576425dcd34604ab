import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, fromJsonString } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, InputSchema, State, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { ConfigError } from "../../../src/config/env-reader.js";
import { loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from "../../../filetransfer/test/support/azurite.js";
import type { Attempt } from "../compute-backend.js";
import { batchTaskId, taskAddParameter } from "./batch-specs.js";
import { TaskDocuments } from "./task-documents.js";

/** Task documents travel as blobs with a read-only, short-lived SAS, never inside the Batch task. */
const BASE = { AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com" };
const SECRET_SIG = "sig=InputSignatureMustNotLeak";

function attempt(): Attempt {
  const task = create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    inputs: [create(InputSchema, { url: `https://data.blob.core.windows.net/in/x?sv=2022-11-02&sp=r&${SECRET_SIG}`, path: "/data/x" })],
    executors: [create(ExecutorSchema, { image: "alpine:3", command: ["true"] })],
  });
  return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
}

describe("task documents: settings", () => {
  test("a container URL, cloud or path-style (Azurite), gives the service, account and container", () => {
    const cloud = loadAzureBatchConfig({ ...BASE, AZURE_BATCH_TASK_DOCUMENTS_URL: "https://tesdata.blob.core.windows.net/tes-tasks" }).taskDocuments;
    assert.deepEqual(cloud, { serviceUrl: "https://tesdata.blob.core.windows.net", accountName: "tesdata", containerName: "tes-tasks", accountKey: undefined, sasTtlSeconds: 43_200 });
    const local = loadAzureBatchConfig({ ...BASE, AZURE_BATCH_TASK_DOCUMENTS_URL: "http://127.0.0.1:10000/devstoreaccount1/docs", AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: AZURITE_KEY, AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS: "900" }).taskDocuments;
    assert.deepEqual(local, { serviceUrl: "http://127.0.0.1:10000/devstoreaccount1", accountName: "devstoreaccount1", containerName: "docs", accountKey: AZURITE_KEY, sasTtlSeconds: 900 });
    assert.equal(loadAzureBatchConfig({ ...BASE, AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true" }).taskDocuments, undefined);
  });

  test("missing or bad settings fail naming the variable, never echoing a key or SAS", () => {
    const refused = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(() => loadAzureBatchConfig({ ...BASE, ...env }), (err: Error) => err instanceof ConfigError && pattern.test(err.message) && !err.message.includes("Secret"), pattern.source);
    refused({}, /AZURE_BATCH_TASK_DOCUMENTS_URL is required/);
    refused({ AZURE_BATCH_TASK_DOCUMENTS_URL: "https://a.blob.core.windows.net/c?sv=1&sig=Secret" }, /must be a plain container URL, with no query \(SAS\)/);
    refused({ AZURE_BATCH_TASK_DOCUMENTS_URL: "https://a.blob.core.windows.net/c/sub" }, /must name one container/);
    refused({ AZURE_BATCH_TASK_DOCUMENTS_URL: "https://a.blob.core.windows.net/Bad_Name" }, /container name must be 3–63/);
    refused({ AZURE_BATCH_TASK_DOCUMENTS_URL: "https://a.blob.core.windows.net/c0c", AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: "Secret!" }, /AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY must be base64/);
    refused({ AZURE_BATCH_TASK_DOCUMENTS_URL: "https://a.blob.core.windows.net/c0c", AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS: "60" }, /AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS/);
  });

  test("the Batch task carries a resource file and no document; the command line no longer writes it", () => {
    const config = loadAzureBatchConfig({ ...BASE, AZURE_BATCH_TASK_DOCUMENTS_URL: "https://a.blob.core.windows.net/c0c" });
    const body = taskAddParameter(config, attempt(), "https://a.blob.core.windows.net/c0c/t/task.json?sp=r&sig=DocSig");
    assert.deepEqual(body.resourceFiles, [{ httpUrl: "https://a.blob.core.windows.net/c0c/t/task.json?sp=r&sig=DocSig", filePath: "task.json" }]);
    assert.equal(body.environmentSettings, undefined);
    assert.ok(!JSON.stringify(body).includes(SECRET_SIG));
    assert.doesNotMatch(body.commandLine, /TES_TASK_DOCUMENT|printf/);
  });
});

describe("task documents in blob storage (Azurite)", () => {
  let azurite: Azurite;
  let documents: TaskDocuments;
  before(async () => {
    azurite = await startAzurite();
    const config = loadAzureBatchConfig({ ...BASE, AZURE_BATCH_TASK_DOCUMENTS_URL: `http://${azurite.host}/${AZURITE_ACCOUNT}/tes-docs`, AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: AZURITE_KEY, AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS: "300" });
    documents = new TaskDocuments(config.taskDocuments!);
  });
  after(async () => {
    await azurite.stop();
  });

  test("the URL reads the document with no other credential, only reads it, lasts the TTL; remove deletes it", async () => {
    const a = attempt();
    const url = await documents.put(a);
    const read = await fetch(url);
    assert.equal(read.status, 200);
    assert.equal(fromJsonString(TaskSchema, await read.text()).id, a.taskId);
    const params = new URL(url).searchParams;
    assert.equal(params.get("sp"), "r");
    assert.equal(params.get("sr"), "b");
    assert.ok(Date.parse(params.get("se") ?? "") <= Date.now() + 301_000);
    // Read-only and this blob only: no write, no other blob.
    const write = await fetch(url, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "x" });
    assert.equal(write.status, 403);
    const other = new URL(url);
    other.pathname = other.pathname.replace(/[^/]+\/task\.json$/, "other/task.json");
    assert.equal((await fetch(other)).status, 403);
    await documents.remove(batchTaskId(a.attemptId));
    assert.equal((await fetch(url)).status, 404);
    await documents.remove(batchTaskId(a.attemptId));
  });
});
