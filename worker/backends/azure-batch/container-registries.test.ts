import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError } from "../../../src/config/env-reader.js";
import { loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { registryOfImage } from "../../../src/config/azure-batch-registries.js";
import { startBatchEmulator, type BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import { attemptWithImages, pollUntilEnded } from "../../../test/worker-support/backend-attempts.js";
import { writeCompletingRunner } from "../../../test/worker-support/completing-runner.js";
import type { ComputeBackend } from "../compute-backend.js";
import { createAzureBatchBackend } from "./create-azure-batch-backend.js";
import { poolAddParameter, poolPlan, registriesForTask, taskAddParameter } from "./batch-specs.js";

/**
 * Private registries (shared/DESIGN.md "Azure Batch mapping"): credentials from configuration, the
 * password from a setting of its own (so a Key Vault reference), ACR through a managed identity;
 * pools keyed by their registries; a password in no pool id, task body, task document or error.
 */
const PASSWORD = "Reg1stryPassw0rd-do-not-leak";
const IDENTITY = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull";
// An identity reaches a pool only through ARM, so these settings carry the account's ARM coordinates (arm-pools.test.ts).
const URL_ENV = {
  AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com",
  AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
  AZURE_BATCH_SUBSCRIPTION_ID: "00000000-0000-0000-0000-000000000000",
  AZURE_BATCH_RESOURCE_GROUP: "rg",
};
const REGISTRIES = JSON.stringify([
  { server: "private.example.com", username: "robot", passwordSetting: "PRIVATE_REGISTRY_PASSWORD" },
  { server: "myacr.azurecr.io", identityResourceId: IDENTITY },
]);

describe("Azure Batch private registries: settings", () => {
  test("the password comes from the setting passwordSetting names; an identity needs no password", () => {
    const config = loadAzureBatchConfig({ ...URL_ENV, AZURE_BATCH_RUNNER_IMAGE: "myacr.azurecr.io/tes-runner:1", AZURE_BATCH_CONTAINER_REGISTRIES: REGISTRIES, PRIVATE_REGISTRY_PASSWORD: PASSWORD });
    assert.deepEqual(config.containerRegistries, [
      { server: "private.example.com", username: "robot", password: PASSWORD },
      { server: "myacr.azurecr.io", identityResourceId: IDENTITY },
    ]);
  });

  test("bad registry settings fail naming the entry and field, never echoing a password", () => {
    const load = (registries: unknown, extra: Record<string, string> = {}) => () =>
      loadAzureBatchConfig({ ...URL_ENV, AZURE_BATCH_RUNNER_IMAGE: "r.example.com/runner:1", AZURE_BATCH_CONTAINER_REGISTRIES: JSON.stringify(registries), ...extra });
    const refused = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (err: Error) => err instanceof ConfigError && pattern.test(err.message) && !err.message.includes(PASSWORD), pattern.source);
    refused(load([{ server: "r.example.com", username: "u", password: PASSWORD }]), /\[0\]\.password is not accepted.*passwordSetting/);
    refused(load([{ server: "r.example.com", username: "u", passwordSetting: "MISSING_PASSWORD" }]), /\[0\]\.passwordSetting names MISSING_PASSWORD, which is not set/);
    refused(load([{ server: "r.example.com", username: "u", passwordSetting: "ACR_CRED" }], { ACR_CRED: PASSWORD }), /\[0\]\.passwordSetting must name a variable whose name contains PASSWORD, SECRET or TOKEN/);
    refused(load([{ server: "r.example.com", username: "u", passwordSetting: "PW_PASSWORD", identityResourceId: IDENTITY }], { PW_PASSWORD: PASSWORD }), /\[0\] needs either username and passwordSetting, or identityResourceId/);
    refused(load([{ server: "r.example.com" }]), /\[0\] needs either/);
    refused(load([{ server: "myacr.azurecr.io", identityResourceId: "acr-pull" }]), /\[0\]\.identityResourceId must be a user-assigned identity's resource id/);
    refused(load([{ server: "not a host", identityResourceId: IDENTITY }]), /\[0\]\.server must be a registry host/);
    refused(load([{ server: "a.example.com", identityResourceId: IDENTITY }, { server: "A.example.com", identityResourceId: IDENTITY }]), /\[1\]\.server a\.example\.com is listed twice/);
    refused(load([{ server: "a.example.com", identityResourceId: IDENTITY, token: "x" }]), /\[0\]\.token is not a known field/);
    refused(() => loadAzureBatchConfig({ ...URL_ENV, AZURE_BATCH_CONTAINER_REGISTRIES: REGISTRIES, PRIVATE_REGISTRY_PASSWORD: PASSWORD }), /needs AZURE_BATCH_RUNNER_IMAGE/);
  });

  test("an image's registry: its first component when it is a host, else Docker Hub", () => {
    assert.equal(registryOfImage("alpine:3"), "docker.io");
    assert.equal(registryOfImage("library/ubuntu"), "docker.io");
    assert.equal(registryOfImage("MyAcr.azurecr.io/tools/bwa:0.7"), "myacr.azurecr.io");
    assert.equal(registryOfImage("localhost:5000/x"), "localhost:5000");
    assert.equal(registryOfImage("localhost/x"), "localhost");
  });
});

describe("Azure Batch private registries: pools and tasks", () => {
  const config = loadAzureBatchConfig({ ...URL_ENV, AZURE_BATCH_RUNNER_IMAGE: "myacr.azurecr.io/tes-runner:1", AZURE_BATCH_CONTAINER_REGISTRIES: REGISTRIES, PRIVATE_REGISTRY_PASSWORD: PASSWORD });
  const size = config.vmSizes[0]!;

  test("pools are keyed by the registries their tasks need; the password shapes no id", () => {
    const publicOnly = poolPlan(config, size, false, registriesForTask(config, ["alpine:3"]));
    const withPrivate = poolPlan(config, size, false, registriesForTask(config, ["private.example.com/tool:1"]));
    assert.deepEqual(publicOnly.registries.map((r) => r.server), ["myacr.azurecr.io"], "the runner image's registry is always there");
    assert.deepEqual(withPrivate.registries.map((r) => r.server), ["private.example.com", "myacr.azurecr.io"]);
    assert.notEqual(publicOnly.id, withPrivate.id);
    const rotated = loadAzureBatchConfig({ ...URL_ENV, AZURE_BATCH_RUNNER_IMAGE: "myacr.azurecr.io/tes-runner:1", AZURE_BATCH_CONTAINER_REGISTRIES: REGISTRIES, PRIVATE_REGISTRY_PASSWORD: "another" });
    assert.equal(poolPlan(rotated, size, false, registriesForTask(rotated, ["private.example.com/tool:1"])).id, withPrivate.id);
  });

  test("the pool is container-enabled with its registries; the task runs the runner image and carries no credential", () => {
    const plan = poolPlan(config, size, false, registriesForTask(config, ["private.example.com/tool:1"]));
    const pool = poolAddParameter(config, plan);
    assert.deepEqual(pool.virtualMachineConfiguration?.containerConfiguration, {
      containerImageNames: ["myacr.azurecr.io/tes-runner:1"],
      containerRegistries: [
        { registryServer: "private.example.com", userName: "robot", password: PASSWORD },
        { registryServer: "myacr.azurecr.io", identityReference: { resourceId: IDENTITY } },
      ],
    });
    const task = taskAddParameter(config, attemptWithImages(["private.example.com/tool:1"]));
    assert.deepEqual(task.containerSettings, { imageName: "myacr.azurecr.io/tes-runner:1", containerRunOptions: "--rm -v /var/run/docker.sock:/var/run/docker.sock" });
    assert.ok(!JSON.stringify(task).includes(PASSWORD));
    assert.ok(!JSON.stringify(plan.id).includes(PASSWORD) && !JSON.stringify(pool.metadata).includes(PASSWORD) && !(pool.displayName ?? "").includes(PASSWORD));
  });
});

describe("Azure Batch private registries against the Batch emulator", () => {
  let emulator: BatchEmulator;
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), "tes-batch-registries-"));
    emulator = await startBatchEmulator({ timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 } });
  });
  after(async () => {
    await emulator.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  async function backendFor(registries: string): Promise<ComputeBackend> {
    const runner = await writeCompletingRunner(scratch);
    return createAzureBatchBackend({
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER: runner,
      AZURE_BATCH_RUNNER_IMAGE: "private.example.com/tes-runner:1",
      // This machine has no Docker engine for the generated start task to find (node-preparation.test.ts).
      AZURE_BATCH_START_TASK: "/bin/sh -c 'echo node ready'",
      AZURE_BATCH_CONTAINER_REGISTRIES: registries,
      PRIVATE_REGISTRY_PASSWORD: PASSWORD,
      AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
      AZURE_BATCH_MAX_RETRY_DELAY_MS: "200",
    });
  }

  test("a task on a private registry runs on a container pool that logs in; the stored Batch task holds no password", async () => {
    const backend = await backendFor(JSON.stringify([{ server: "private.example.com", username: "robot", passwordSetting: "PRIVATE_REGISTRY_PASSWORD" }]));
    try {
      const [outcome] = await backend.submit([attemptWithImages(["private.example.com/tool:1", "alpine:3"])]);
      assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
      const handle = outcome?.kind === "submitted" ? outcome.handle : "";
      const [poolId, taskId] = handle.split("/") as [string, string];
      const pool = emulator.account.pools.get(poolId.toLowerCase());
      const containers = (pool?.spec.virtualMachineConfiguration as { containerConfiguration?: unknown } | undefined)?.containerConfiguration;
      assert.deepEqual(containers, {
        type: "dockerCompatible",
        containerImageNames: ["private.example.com/tes-runner:1"],
        containerRegistries: [{ registryServer: "private.example.com", username: "robot", password: PASSWORD }],
      });
      const stored = emulator.account.jobs.get(poolId.toLowerCase())?.tasks.get(taskId.toLowerCase());
      assert.ok(stored !== undefined);
      assert.ok(!JSON.stringify(stored.spec).includes(PASSWORD), "the Batch task's JSON holds the registry password");
      // A container pool's task must have containerSettings (§5): it ran.
      const status = await pollUntilEnded(backend, handle);
      assert.equal(status?.phase === "ended" ? status.result.outcome : status?.phase, "complete", JSON.stringify(status));
      await backend.release([handle]);
    } finally {
      await backend.close();
    }
  });

  test("ACR through an identity without ARM coordinates (the data plane cannot attach one): the backend refuses to start, naming what to set", async () => {
    emulator.resetCounts();
    await assert.rejects(
      backendFor(JSON.stringify([{ server: "private.example.com", identityResourceId: IDENTITY }])),
      (err: Error) => err instanceof ConfigError && /^AZURE_BATCH_CONTAINER_REGISTRIES\[0\] signs in with identityResourceId, but .*AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP/.test(err.message),
    );
    assert.equal(emulator.counts().Pool_Add, undefined, "nothing reached Batch");
  });
});
