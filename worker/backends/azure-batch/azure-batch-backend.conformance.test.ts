import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after } from "node:test";
import { loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { startBatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import { defineBackendConformanceTests } from "../conformance/backend-conformance.js";
import { createAzureBatchBackend } from "./create-azure-batch-backend.js";

// The Azure Batch backend against the Batch emulator: the node-side runner runs each Batch task's
// command line on this host with the bwrap runtime instead of docker.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const emulator = await startBatchEmulator({
  timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 },
  baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", HOME: os.tmpdir(), TMPDIR: os.tmpdir() },
});
after(() => emulator.stop());

const env = {
  AZURE_BATCH_ACCOUNT_URL: emulator.url,
  AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
  AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
  AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
  AZURE_BATCH_RUNNER: `${path.join(repo, "node_modules/.bin/tsx")} ${path.join(repo, "worker/runner/cli.ts")}`,
  AZURE_BATCH_CONTAINER_RUNTIME: "bwrap",
  AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
  AZURE_BATCH_MAX_NODES_PER_POOL: "6",
};

defineBackendConformanceTests("azure-batch (Batch emulator)", {
  create: () => createAzureBatchBackend(env),
  endTimeoutMs: 30_000,
  cancelTimeoutMs: 5000,
});
