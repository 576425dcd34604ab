import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { ConfigError } from "../../../src/config/env-reader.js";
import { startBatchEmulator, type BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import { tokenCredential } from "../../../test/emulators/batch/sdk-test-helpers.js";
import { attemptWithImages, pollUntilEnded } from "../../../test/worker-support/backend-attempts.js";
import { writeCompletingRunner } from "../../../test/worker-support/completing-runner.js";
import type { ComputeBackend } from "../compute-backend.js";
import { armPoolParameters } from "./arm-pool-spec.js";
import { poolAddParameter, poolPlan, registriesForTask } from "./batch-specs.js";
import { createAzureBatchBackend } from "./create-azure-batch-backend.js";

/**
 * Pools through Azure Resource Manager (shared/notes/AZURE-BATCH.md §5 "Identity for ACR"): with
 * the Batch account's ARM coordinates, the backend creates each pool with the user-assigned
 * identities its registries (and the node identity) need, so ACR pulls by identityReference work;
 * without them, a setting that needs an identity is refused at start-up.
 */
const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const ACR_PULL = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull`;
const NODE_IDENTITY = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tes-node`;
const ACR_REGISTRIES = JSON.stringify([{ server: "myacr.azurecr.io", identityResourceId: ACR_PULL }]);
const BASE_ENV = {
  AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com",
  AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
  AZURE_BATCH_RUNNER_IMAGE: "myacr.azurecr.io/tes-runner:1",
  AZURE_BATCH_CONTAINER_REGISTRIES: ACR_REGISTRIES,
};
const ARM_ENV = { AZURE_BATCH_SUBSCRIPTION_ID: SUBSCRIPTION, AZURE_BATCH_RESOURCE_GROUP: "batch-rg" };

describe("Azure Batch ARM pools: settings", () => {
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadAzureBatchConfig(env), (err: Error) => err instanceof ConfigError && pattern.test(err.message), pattern.source);

  test("an identity registry or a node identity without ARM coordinates is refused, naming the variables to set", () => {
    refused(BASE_ENV, /^AZURE_BATCH_CONTAINER_REGISTRIES\[0\] signs in with identityResourceId, but .*set AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP/);
    refused({ AZURE_BATCH_ACCOUNT_URL: BASE_ENV.AZURE_BATCH_ACCOUNT_URL, AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true", AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID: NODE_IDENTITY }, /^AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID is set, but .*AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP/);
  });

  test("ARM coordinates: both or neither, a GUID, a resource group name, an https endpoint, a .default scope", () => {
    refused({ ...BASE_ENV, AZURE_BATCH_SUBSCRIPTION_ID: SUBSCRIPTION }, /AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP go together/);
    refused({ ...BASE_ENV, AZURE_BATCH_RESOURCE_GROUP: "rg" }, /AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP go together/);
    refused({ ...BASE_ENV, ...ARM_ENV, AZURE_BATCH_SUBSCRIPTION_ID: "my-subscription" }, /AZURE_BATCH_SUBSCRIPTION_ID must be a subscription id \(a GUID\)/);
    refused({ ...BASE_ENV, ...ARM_ENV, AZURE_BATCH_RESOURCE_GROUP: "rg." }, /AZURE_BATCH_RESOURCE_GROUP must be 1 to 90/);
    refused({ ...BASE_ENV, ...ARM_ENV, AZURE_BATCH_ARM_ENDPOINT: "http://127.0.0.1:8443" }, /AZURE_BATCH_ARM_ENDPOINT must be an https URL/);
    refused({ ...BASE_ENV, ...ARM_ENV, AZURE_BATCH_ARM_SCOPE: "https://management.azure.com/" }, /AZURE_BATCH_ARM_SCOPE must be a resource's \.default scope/);
    refused({ ...BASE_ENV, AZURE_BATCH_CONTAINER_REGISTRIES: "", AZURE_BATCH_ARM_ENDPOINT: "https://management.usgovcloudapi.net" }, /AZURE_BATCH_ARM_ENDPOINT needs AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP/);
    refused({ ...BASE_ENV, ...ARM_ENV, AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID: "tes-node" }, /AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID must be a user-assigned identity's resource id/);
    const config = loadAzureBatchConfig({ ...BASE_ENV, ...ARM_ENV });
    assert.deepEqual(config.arm, { subscriptionId: SUBSCRIPTION, resourceGroup: "batch-rg", endpoint: "https://management.azure.com", scope: "https://management.azure.com/.default" });
  });

  test("the ARM pool mirrors the data-plane pool, with the identities its registries and the node need", () => {
    const config = loadAzureBatchConfig({ ...BASE_ENV, ...ARM_ENV, AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID: NODE_IDENTITY });
    const plan = poolPlan(config, config.vmSizes[0]!, true, registriesForTask(config, ["myacr.azurecr.io/tool:1"]));
    assert.deepEqual(plan.identities, [ACR_PULL, NODE_IDENTITY]);
    const createdAt = new Date("2026-01-01T00:00:00Z");
    const dataPlane = poolAddParameter(config, plan, createdAt);
    const arm = armPoolParameters(config, plan, createdAt);
    assert.deepEqual(arm.identity, { type: "UserAssigned", userAssignedIdentities: { [ACR_PULL]: {}, [NODE_IDENTITY]: {} } });
    assert.equal(arm.vmSize, dataPlane.vmSize);
    assert.equal(arm.displayName, dataPlane.displayName);
    assert.deepEqual(arm.deploymentConfiguration?.virtualMachineConfiguration, {
      imageReference: dataPlane.virtualMachineConfiguration?.imageReference,
      nodeAgentSkuId: dataPlane.virtualMachineConfiguration?.nodeAgentSKUId,
      containerConfiguration: { type: "DockerCompatible", containerImageNames: ["myacr.azurecr.io/tes-runner:1"], containerRegistries: [{ registryServer: "myacr.azurecr.io", identityReference: { resourceId: ACR_PULL } }] },
    });
    assert.deepEqual(arm.scaleSettings, { autoScale: { formula: dataPlane.autoScaleFormula, evaluationInterval: dataPlane.autoScaleEvaluationInterval } });
    assert.match(arm.scaleSettings?.autoScale?.formula ?? "", /\$TargetLowPriorityNodes = min\(10, pending\)/, "low priority by formula, as on the data plane");
    assert.equal(arm.startTask?.commandLine, dataPlane.startTask?.commandLine);
    assert.deepEqual(arm.startTask?.userIdentity, { autoUser: { scope: "Pool", elevationLevel: "Admin" } });
    assert.equal(arm.taskSlotsPerNode, dataPlane.taskSlotsPerNode);
    assert.deepEqual(arm.metadata, dataPlane.metadata);
    // The node identity shapes the pool, so pools with and without it are never shared.
    const without = loadAzureBatchConfig({ ...BASE_ENV, ...ARM_ENV });
    assert.notEqual(poolPlan(without, config.vmSizes[0]!, true, registriesForTask(without, ["myacr.azurecr.io/tool:1"])).id, plan.id);
  });
});

describe("Azure Batch ARM pools against the Batch emulator", () => {
  let emulator: BatchEmulator;
  let scratch: string;
  let runner: string;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), "tes-batch-arm-"));
    emulator = await startBatchEmulator({ arm: true, timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 } });
    // A stand-in runner that reports every task COMPLETE; the real runner's path is azure-batch-worker.test.ts.
    runner = await writeCompletingRunner(scratch);
  });
  after(async () => {
    await emulator.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  async function armBackend(extra: Record<string, string> = {}): Promise<{ backend: ComputeBackend; asked: string[] }> {
    const arm = emulator.arm!;
    const credential = tokenCredential();
    const backend = await createAzureBatchBackend(
      {
        AZURE_BATCH_ACCOUNT_URL: emulator.url,
        AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
        AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
        AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
        AZURE_BATCH_SUBSCRIPTION_ID: arm.subscriptionId,
        AZURE_BATCH_RESOURCE_GROUP: arm.resourceGroup,
        AZURE_BATCH_ARM_ENDPOINT: arm.url,
        AZURE_BATCH_RUNNER: runner,
        AZURE_BATCH_RUNNER_IMAGE: "myacr.azurecr.io/tes-runner:1",
        AZURE_BATCH_START_TASK: "/bin/sh -c 'echo node ready'",
        AZURE_BATCH_CONTAINER_REGISTRIES: ACR_REGISTRIES,
        AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
        AZURE_BATCH_LIST_INTERVAL_MS: "0",
        AZURE_BATCH_MAX_RETRY_DELAY_MS: "5000",
        ...extra,
      },
      { credential, armClientOptions: { tlsOptions: { ca: arm.ca } } },
    );
    return { backend, asked: credential.asked };
  }

  test("an ACR registry given by identity: the pool is created through ARM with that identity, and a task on it runs to COMPLETE", async () => {
    emulator.resetCounts();
    const { backend, asked } = await armBackend();
    try {
      const [outcome] = await backend.submit([attemptWithImages(["myacr.azurecr.io/tool:1"])]);
      assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
      const handle = outcome?.kind === "submitted" ? outcome.handle : "";
      const poolId = handle.split("/")[0] ?? "";
      const pool = emulator.account.pools.get(poolId.toLowerCase());
      assert.ok(pool?.armProperties !== undefined, "the pool was made through ARM");
      assert.deepEqual(pool.identities, [ACR_PULL]);
      assert.deepEqual((pool.spec.virtualMachineConfiguration as { containerConfiguration?: unknown }).containerConfiguration, {
        type: "DockerCompatible",
        containerImageNames: ["myacr.azurecr.io/tes-runner:1"],
        containerRegistries: [{ registryServer: "myacr.azurecr.io", identityReference: { resourceId: ACR_PULL } }],
      });
      const counts = emulator.counts();
      assert.equal(counts.Arm_Pool_Create, 1);
      assert.equal(counts.Pool_Add, undefined, "no data-plane Pool Add");
      assert.equal(counts.Job_Add, 1, "the job stays on the data plane");
      assert.ok(asked.every((scope) => scope === "https://management.azure.com/.default"), `ARM scope asked: ${asked.join(", ")}`);
      const status = await pollUntilEnded(backend, handle);
      assert.equal(status?.phase === "ended" ? status.result.outcome : status?.phase, "complete", JSON.stringify(status));
      await backend.release([handle]);
    } finally {
      await backend.close();
    }
  });

  test("ARM throttling (429 with Retry-After) on pool creation is waited out; the task is submitted", async () => {
    emulator.resetCounts();
    // A node identity makes a pool of its own, so this test creates one even after the previous test.
    const { backend } = await armBackend({ AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID: NODE_IDENTITY });
    try {
      emulator.faults.http({ operation: "Arm_Pool_Create", status: 429, retryAfterSeconds: 1, times: 2 });
      const started = Date.now();
      const [outcome] = await backend.submit([attemptWithImages(["myacr.azurecr.io/tool:1"])]);
      assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
      assert.equal(emulator.counts().Arm_Pool_Create, 3, "two throttled answers, then the pool");
      assert.ok(Date.now() - started >= 1900, "Retry-After (1 s) was honoured twice");
      assert.equal((backend as unknown as { retries: ReadonlyMap<string, number> }).retries.get("429"), 2);
      const handle = outcome?.kind === "submitted" ? outcome.handle : "";
      assert.deepEqual(emulator.account.pools.get(handle.split("/")[0]!.toLowerCase())?.identities, [ACR_PULL, NODE_IDENTITY]);
      await backend.cancel([handle]);
      await backend.release([handle]);
    } finally {
      await backend.close();
    }
  });

  test("the pool quota reached, answered by ARM: the attempt is blocked with the reason (the task stays QUEUED), then submitted once there is room", async () => {
    const { backend } = await armBackend({ AZURE_BATCH_POOL_PREFIX: "quota" });
    const pools = emulator.account.quotas.pools;
    try {
      emulator.faults.setQuotas({ pools: emulator.account.pools.size });
      const task = attemptWithImages(["myacr.azurecr.io/tool:1"]);
      const [blocked] = await backend.submit([task]);
      assert.equal(blocked?.kind, "blocked", JSON.stringify(blocked));
      assert.match(blocked?.kind === "blocked" ? blocked.reason : "", /pool quota is reached/);
      emulator.faults.setQuotas({ pools });
      const [outcome] = await backend.submit([task]);
      assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
      await backend.release([outcome?.kind === "submitted" ? outcome.handle : ""]);
    } finally {
      emulator.faults.setQuotas({ pools });
      await backend.close();
    }
  });

  test("a pool that already exists (another worker made it) is used as it is: 412 on If-None-Match counts as created", async () => {
    emulator.resetCounts();
    const first = await armBackend();
    const second = await armBackend();
    try {
      const [a] = await first.backend.submit([attemptWithImages(["myacr.azurecr.io/tool:2"])]);
      const [b] = await second.backend.submit([attemptWithImages(["myacr.azurecr.io/tool:3"])]);
      assert.equal(a?.kind, "submitted");
      assert.equal(b?.kind, "submitted", JSON.stringify(b));
      assert.equal(emulator.counts().Arm_Pool_Create, 2, "each backend asked once");
      for (const [backend, outcome] of [[first.backend, a], [second.backend, b]] as const) {
        const handle = outcome?.kind === "submitted" ? outcome.handle : "";
        const status = await pollUntilEnded(backend, handle);
        assert.equal(status?.phase === "ended" ? status.result.outcome : status?.phase, "complete");
        await backend.release([handle]);
      }
    } finally {
      await first.backend.close();
      await second.backend.close();
    }
  });
});
