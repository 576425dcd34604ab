import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, State, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from "../../../filetransfer/test/support/azurite.js";
import { startBatchEmulator, type BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import { parseRegistryLogins } from "../../runner/registry-login/registry-logins.js";
import type { Attempt, AttemptStatus, ComputeBackend } from "../compute-backend.js";
import { batchTaskId } from "./batch-specs.js";
import { batchClient, batchCredentials, createAzureBatchBackend } from "./create-azure-batch-backend.js";
import { REGISTRY_LOGINS_FILE, registryLoginsFor, TaskDocuments } from "./task-documents.js";

/**
 * How the runner learns which registries to sign in to: a registry logins document beside the task
 * document (a blob with a short read SAS, fetched by the node as a resource file), named to the
 * runner by the TES_REGISTRY_LOGINS environment setting. Only for executor images from configured
 * registries; an ACR identity entry carries no secret, a password entry carries the password (the
 * backend README, "Private registries", says why that is the choice). The runner is the real one
 * (bwrap in place of docker), run by the Batch emulator's node.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const PASSWORD = "registry-Pa55word-SECRET";
const IDENTITY = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull";
// (An identity entry in AZURE_BATCH_CONTAINER_REGISTRIES needs pools made through ARM, which the
// emulator does not stand in for; the document's identity entry is checked on its own below.)
const REGISTRIES = JSON.stringify([
  { server: "private.example.com", username: "robot", passwordSetting: "PRIVATE_REGISTRY_PASSWORD" },
  { server: "other.example.com", username: "bot", passwordSetting: "PRIVATE_REGISTRY_PASSWORD" },
]);

function attempt(images: string[]): Attempt {
  const task = create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    executors: images.map((image) => create(ExecutorSchema, { image, command: ["/bin/sh", "-c", "echo ran"] })),
  });
  return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
}

describe("registry logins for the runner (Batch emulator, Azurite, the runner)", () => {
  let emulator: BatchEmulator;
  let azurite: Azurite;
  let backend: ComputeBackend;
  let env: Record<string, string>;

  before(async () => {
    azurite = await startAzurite();
    emulator = await startBatchEmulator({
      timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 },
      baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", HOME: os.tmpdir(), TMPDIR: os.tmpdir() },
    });
    env = {
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER: `${path.join(repo, "node_modules/.bin/tsx")} ${path.join(repo, "worker/runner/cli.ts")}`,
      AZURE_BATCH_CONTAINER_RUNTIME: "bwrap",
      AZURE_BATCH_RUNNER_IMAGE: "private.example.com/tes-runner:1",
      // This machine has no Docker engine for the generated start task to find (node-preparation.test.ts).
      AZURE_BATCH_START_TASK: "/bin/sh -c 'echo node ready'",
      AZURE_BATCH_CONTAINER_REGISTRIES: REGISTRIES,
      PRIVATE_REGISTRY_PASSWORD: PASSWORD,
      AZURE_BATCH_TASK_DOCUMENTS_URL: `http://${azurite.host}/${AZURITE_ACCOUNT}/tes-logins`,
      AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: AZURITE_KEY,
      AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
      AZURE_BATCH_MAX_RETRY_DELAY_MS: "200",
    };
    backend = await createAzureBatchBackend(env);
  });
  after(async () => {
    await backend.close();
    await emulator.stop();
    await azurite.stop();
  });

  test("only the registries of the executor images, and only with a runner image", () => {
    const config = loadAzureBatchConfig(env);
    const a = attempt(["private.example.com/tool:1", "alpine:3"]);
    assert.deepEqual(registryLoginsFor(config, a).map((r) => r.server), ["private.example.com"]);
    assert.deepEqual(registryLoginsFor(config, attempt(["other.example.com/x:2", "private.example.com/y:1"])).map((r) => r.server), ["private.example.com", "other.example.com"]);
    // The runner image's registry is Batch's to log in to: a task of public images needs none.
    assert.deepEqual(registryLoginsFor(config, attempt(["alpine:3"])), []);
  });

  test("the logins document reads with its SAS alone: the identity entry holds no secret; it is removed with the task's documents", async () => {
    const config = loadAzureBatchConfig(env);
    const documents = new TaskDocuments(config.taskDocuments!);
    const a = attempt(["myacr.azurecr.io/x:2", "private.example.com/y:1"]);
    const url = await documents.putRegistryLogins(a, [...registryLoginsFor(config, a), { server: "myacr.azurecr.io", identityResourceId: IDENTITY }]);
    assert.equal(new URL(url).searchParams.get("sp"), "r");
    const entries = parseRegistryLogins(await (await fetch(url)).text());
    assert.deepEqual(entries, [
      { server: "private.example.com", username: "robot", password: PASSWORD },
      { server: "myacr.azurecr.io", identityResourceId: IDENTITY },
    ]);
    await documents.remove(batchTaskId(a.attemptId));
    assert.equal((await fetch(url)).status, 404);
  });

  test("a task with a private executor image: the Batch task names the document and holds no password; the runner deletes it once read", async () => {
    const [outcome] = await backend.submit([attempt(["private.example.com/tool:1"])]);
    assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
    const handle = outcome?.kind === "submitted" ? outcome.handle : "";
    const [jobId, taskId] = handle.split("/") as [string, string];
    const stored = emulator.account.jobs.get(jobId.toLowerCase())?.tasks.get(taskId.toLowerCase());
    assert.ok(stored !== undefined);
    const spec = stored.spec as { resourceFiles: { filePath: string }[]; environmentSettings: { name: string; value: string }[] };
    assert.deepEqual(spec.resourceFiles.map((f) => f.filePath), ["task.json", REGISTRY_LOGINS_FILE]);
    assert.deepEqual(spec.environmentSettings, [{ name: "TES_REGISTRY_LOGINS", value: REGISTRY_LOGINS_FILE }]);
    assert.ok(!JSON.stringify(stored.spec).includes(PASSWORD), "the Batch task's JSON holds the registry password");

    let status: AttemptStatus | undefined;
    for (let i = 0; i < 600 && status?.phase !== "ended"; i += 1) {
      [status] = await backend.poll([handle]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(status?.phase === "ended", `last phase ${status?.phase}`);
    assert.equal(status.result.outcome, "complete", status.result.systemLogs.join("\n"));
    assert.ok(!JSON.stringify(status.result, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)).includes(PASSWORD));
    // Batch serves a task's files to whoever may read the task: the runner left no logins document there.
    const config = loadAzureBatchConfig(env);
    const client = batchClient(config, await batchCredentials(config));
    const read = (file: string) => client.file.getFromTask(jobId, taskId, file).then(() => 200, (err: { statusCode?: number }) => err.statusCode);
    assert.equal(await read("wd/task.json"), 200);
    assert.equal(await read(`wd/${REGISTRY_LOGINS_FILE}`), 404);
    await backend.release([handle]);
  });

  test("a task of public images gets no logins document", async () => {
    const [outcome] = await backend.submit([attempt(["alpine:3"])]);
    const handle = outcome?.kind === "submitted" ? outcome.handle : "";
    const [jobId, taskId] = handle.split("/") as [string, string];
    const spec = emulator.account.jobs.get(jobId.toLowerCase())?.tasks.get(taskId.toLowerCase())?.spec as { resourceFiles: { filePath: string }[]; environmentSettings?: unknown };
    assert.deepEqual(spec.resourceFiles.map((f) => f.filePath), ["task.json"]);
    assert.equal(spec.environmentSettings, undefined);
    await backend.cancel([handle]);
    await backend.release([handle]);
  });
});
