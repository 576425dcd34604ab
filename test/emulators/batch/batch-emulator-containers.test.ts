import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BatchServiceClient } from "@azure/batch";
import type { BatchEmulator } from "./batch-emulator.js";
import { failure, poolBody, sharedKeyClient, startTestEmulator } from "./sdk-test-helpers.js";

// Pins container pools to shared/notes/AZURE-BATCH.md §5 (containerConfiguration, Identity for ACR) and §4.
const ATTACHED = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/attached";
const OTHER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other";
const image = { publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" };

describe("Batch emulator: container pools and registries", () => {
  let emulator: BatchEmulator;
  let batch: BatchServiceClient;
  before(async () => {
    emulator = await startTestEmulator({ poolIdentities: [ATTACHED] });
    batch = sharedKeyClient(emulator);
  });
  after(async () => {
    await emulator.stop();
  });

  const containerPool = (id: string, containerRegistries: object[]) =>
    poolBody(id, {
      virtualMachineConfiguration: { imageReference: image, nodeAgentSKUId: "batch.node.ubuntu 22.04", containerConfiguration: { containerImageNames: ["r.example.com/x:1"], containerRegistries } },
    });

  test("a registry signs in with username and password, or with an identity attached to the pool", async () => {
    assert.equal((await batch.pool.add(containerPool("c-pw", [{ registryServer: "r.example.com", userName: "u", password: "p" }])))._response.status, 201);
    assert.equal((await batch.pool.add(containerPool("c-id", [{ registryServer: "a.azurecr.io", identityReference: { resourceId: ATTACHED } }])))._response.status, 201);
    // The SDK sends type dockerCompatible itself (§5).
    const stored = emulator.account.pools.get("c-pw")?.spec.virtualMachineConfiguration as { containerConfiguration: { type: string } };
    assert.equal(stored.containerConfiguration.type, "dockerCompatible");
  });

  test("an identity the pool does not have, both sign-ins at once, or a user name without password: 400 naming the property", async () => {
    const cases: [object, string, string][] = [
      [{ registryServer: "a.azurecr.io", identityReference: { resourceId: OTHER } }, "InvalidPropertyValue", "containerRegistries[0].identityReference.resourceId"],
      [{ registryServer: "a.azurecr.io", userName: "u", password: "p", identityReference: { resourceId: ATTACHED } }, "InvalidPropertyValue", "containerRegistries[0].identityReference"],
      [{ registryServer: "r.example.com", userName: "u" }, "MissingRequiredProperty", "containerRegistries[0].password"],
    ];
    for (const [registry, code, property] of cases) {
      const err = await failure(batch.pool.add(containerPool(`bad-${code.length}-${property.length}`, [registry])));
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, code);
      assert.match(JSON.stringify(err.body), new RegExp(`virtualMachineConfiguration\\.containerConfiguration\\.${property.replace(/[[\].]/g, "\\$&")}`));
    }
  });

  test("a task without containerSettings on a container pool fails with ContainerTaskSettingsNotFound (§4)", async () => {
    await batch.pool.resize("c-pw", { targetDedicatedNodes: 1 });
    await batch.job.add({ id: "c-job", poolInfo: { poolId: "c-pw" } });
    await batch.task.add("c-job", { id: "plain", commandLine: "/bin/true" });
    for (let i = 0; i < 200; i += 1) {
      const task = await batch.task.get("c-job", "plain");
      if (task.state === "completed") {
        assert.equal(task.executionInfo?.failureInfo?.code, "ContainerTaskSettingsNotFound");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail("the task never completed");
  });
});
