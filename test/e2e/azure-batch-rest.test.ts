import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite } from "../../filetransfer/test/support/azurite.js";
import { redisAddressFromUrl } from "../../src/redis/redis-address.js";
import type { BatchEmulator } from "../emulators/batch/batch-emulator.js";
import { TesProcess } from "../operations/serve-process.js";
import { startAzureBatchStandIn, type AzureBatchStandIn } from "../support/azure-batch-stand-in.js";
import { assertValidTes } from "../support/openapi-validator.js";
import { removeQueues, TEST_REDIS_URL } from "../worker-support/harness.js";
import { lastLog, type TaskJson } from "./support/task-json.js";

/**
 * A real `tes serve` process (API and worker) with TES_BACKEND=azure-batch, pointed at the Batch
 * emulator, whose nodes run the real node-side runner (bwrap instead of docker) and filetransfer
 * against Azurite: driven through the REST API as a TES client would, every body checked against
 * the TES 1.1 OpenAPI.
 */
describe("tasks end to end through the REST API on the Azure Batch backend (emulator + Azurite)", () => {
  let dir: string;
  let azurite: Azurite;
  let emulator: BatchEmulator;
  let tes: TesProcess;
  let baseUrl: string;
  let container: ContainerClient;
  let sas: string;
  let httpUrl: string;
  let batch: AzureBatchStandIn;
  const prefix = `tes-e2e-batch-${randomUUID()}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-e2e-batch-"));
    batch = await startAzureBatchStandIn();
    ({ azurite, emulator, container, sas, httpUrl } = batch);
    tes = await TesProcess.start(
      "serve",
      {
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_FORMAT: "json",
        TES_DATA_DIR: join(dir, "data"),
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        WORKER_POLL_INTERVAL_MS: "200",
        TES_BACKEND: "azure-batch",
        ...batch.backendEnv,
        AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS: "600",
      },
      60_000,
    );
    baseUrl = `${tes.baseUrl}/ga4gh/tes/v1`;
  });

  after(async () => {
    await tes?.stop("SIGTERM", 15_000);
    await batch?.stop();
    await removeQueues(redisAddressFromUrl(new URL(TEST_REDIS_URL)).options, prefix);
    await rm(dir, { recursive: true, force: true });
  });

  async function createTask(task: unknown): Promise<string> {
    const response = await fetch(`${baseUrl}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(task) });
    const json = (await response.json()) as { id: string };
    assert.equal(response.status, 200, `${JSON.stringify(json)}\n${tes.output.text.slice(-3000)}`);
    assertValidTes("tesCreateTaskResponse", json);
    return json.id;
  }

  async function getTask(id: string): Promise<TaskJson> {
    const response = await fetch(`${baseUrl}/tasks/${id}?view=FULL`);
    assert.equal(response.status, 200);
    const json = (await response.json()) as TaskJson;
    assertValidTes("tesTask", json);
    return json;
  }

  async function waitFor(id: string, states: string[], timeoutMs = 90_000): Promise<TaskJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await getTask(id);
      if (states.includes(task.state)) return task;
      assert.ok(Date.now() < deadline, `task ${id} is ${task.state}, not ${states.join(" or ")}\n${tes.output.text.slice(-3000)}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  const ended = ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"];
  const sh = (script: string, extra: Record<string, unknown> = {}) => ({ image: "alpine:3", command: ["sh", "-c", script], ...extra });
  const blobUrl = (name: string) => `http://${azurite.host}/${AZURITE_ACCOUNT}/tes/${name}?${sas}`;

  test("inputs from blob storage and HTTP, two executors, outputs to blob storage: COMPLETE with full logs", async () => {
    await container.getBlockBlobClient("in/greeting.txt").upload("hello\n", 6);
    const id = await createTask({
      name: "batch end to end",
      inputs: [
        { url: blobUrl("in/greeting.txt"), path: "/data/greeting.txt" },
        { url: `${httpUrl}/words.txt`, path: "/data/words.txt" },
      ],
      volumes: ["/out"],
      executors: [
        sh("cat /data/greeting.txt /data/words.txt > /out/joined.txt; echo joined"),
        sh('wc -l < /out/joined.txt | tr -d " " > /out/count.txt; cat /out/count.txt; echo "$WHO" >&2', { env: { WHO: "second" } }),
      ],
      outputs: [
        { url: blobUrl("out/joined.txt"), path: "/out/joined.txt" },
        { url: blobUrl("out/count.txt"), path: "/out/count.txt" },
      ],
    });
    const task = await waitFor(id, ended);
    const log = lastLog(task);
    assert.equal(task.state, "COMPLETE", JSON.stringify(task.logs));
    assert.equal(task.logs?.length, 1);
    assert.deepEqual(log.logs.map((e) => e.exit_code), [0, 0]);
    assert.equal(log.logs[0]?.stdout, "joined\n");
    assert.equal(log.logs[1]?.stdout, "3\n");
    assert.equal(log.logs[1]?.stderr, "second\n");
    assert.ok(log.start_time && log.end_time && log.logs[0]?.start_time && log.logs[1]?.end_time);
    const outputs = Object.fromEntries(log.outputs.map((o) => [o.path, o.size_bytes]));
    assert.deepEqual(outputs, { "/out/joined.txt": "19", "/out/count.txt": "2" });
    const text = async (name: string) => (await container.getBlobClient(name).downloadToBuffer()).toString();
    assert.equal(await text("out/joined.txt"), "hello\napple\nbanana\n");
    assert.equal(await text("out/count.txt"), "3\n");
    // The task as served keeps its inputs; nothing the server wrote itself carries the SAS signature.
    assert.ok(!JSON.stringify(log.system_logs).includes("sig="));
    // The Batch task was deleted once its result was read.
    await until(() => [...emulator.account.jobs.values()].every((job) => job.tasks.size === 0), "the Batch task to be deleted");
    // The task list answers in the OpenAPI shape too.
    const list = await (await fetch(`${baseUrl}/tasks?view=FULL`)).json();
    assertValidTes("tesListTasksResponse", list);
  });

  test("a failing executor ends EXECUTOR_ERROR with its exit code; later executors do not run", async () => {
    const id = await createTask({ executors: [sh("echo trying; exit 4"), sh("echo never")] });
    const task = await waitFor(id, ended);
    assert.equal(task.state, "EXECUTOR_ERROR", JSON.stringify(task.logs));
    const log = lastLog(task);
    assert.deepEqual(log.logs.map((e) => e.exit_code), [4]);
    assert.equal(log.logs[0]?.stdout, "trying\n");
  });

  test("cancel over REST during a running executor: CANCELED, the Batch task terminated; the Batch task never shows the inputs' SAS", async () => {
    await container.getBlockBlobClient("in/secret-input.txt").upload("x", 1);
    const id = await createTask({ inputs: [{ url: blobUrl("in/secret-input.txt"), path: "/data/x" }], executors: [sh("sleep 120")] });
    await waitFor(id, ["RUNNING"]);
    // The Batch task as the emulator stores it (what anyone who may read the account's tasks sees).
    const stored = [...emulator.account.jobs.values()].flatMap((job) => [...job.tasks.values()]).filter((t) => t.id.startsWith(id));
    assert.equal(stored.length, 1);
    const json = JSON.stringify(stored[0]!.spec);
    const signature = new URLSearchParams(sas).get("sig") ?? "";
    assert.ok(signature !== "" && !json.includes(signature) && !json.includes(encodeURIComponent(signature)), "the input's SAS signature is in the Batch task");
    assert.ok(!json.includes("TES_TASK_DOCUMENT") && !json.includes("secret-input"), "the task document is in the Batch task");
    // The one URL it does hold: a read-only SAS on its own document blob, expiring within the TTL.
    const resourceFiles = stored[0]!.spec.resourceFiles as { httpUrl: string; filePath: string }[];
    assert.equal(resourceFiles.length, 1);
    assert.equal(resourceFiles[0]!.filePath, "task.json");
    const documentUrl = new URL(resourceFiles[0]!.httpUrl);
    assert.match(documentUrl.pathname, new RegExp(`^/${AZURITE_ACCOUNT}/tes-batch-tasks/[a-z0-9_-]+/task\\.json$`));
    assert.equal(documentUrl.searchParams.get("sp"), "r");
    assert.equal(documentUrl.searchParams.get("sr"), "b");
    const expires = Date.parse(documentUrl.searchParams.get("se") ?? "");
    assert.ok(expires > Date.now() && expires <= Date.now() + 601_000, `the document SAS expires at ${new Date(expires).toISOString()}`);
    const documentBlob = decodeURIComponent(documentUrl.pathname.split("/tes-batch-tasks/")[1] ?? "");
    const documents = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient("tes-batch-tasks");
    assert.equal(await documents.getBlobClient(documentBlob).exists(), true);
    const canceled = await fetch(`${baseUrl}/tasks/${id}:cancel`, { method: "POST" });
    assert.equal(canceled.status, 200);
    assertValidTes("tesCancelTaskResponse", await canceled.json());
    const task = await waitFor(id, ended, 30_000);
    assert.equal(task.state, "CANCELED");
    const terminated = emulator.counts()["Task_Terminate"] ?? 0;
    assert.ok(terminated >= 1, `Task_Terminate was called ${terminated} times`);
    // Released: the Batch task and its document are gone.
    await until(() => [...emulator.account.jobs.values()].every((job) => job.tasks.size === 0), "the Batch task to be deleted");
    for (let i = 0; (await documents.getBlobClient(documentBlob).exists()) && i < 100; i += 1) await new Promise((done) => setTimeout(done, 100));
    assert.equal(await documents.getBlobClient(documentBlob).exists(), false, "the task document outlived its attempt");
  });

  test("a file:// input is refused at create with a 400 naming the field: Batch nodes cannot read the server's disk", async () => {
    const response = await fetch(`${baseUrl}/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: [{ url: "file:///etc/hostname", path: "/data/h" }], executors: [sh("cat /data/h")] }),
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /inputs\[0\]\.url: local files cannot be reached from Azure Batch nodes/);
  });

  async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((done) => setTimeout(done, 50));
    }
  }
});

