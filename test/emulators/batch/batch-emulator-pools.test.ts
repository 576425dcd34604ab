import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { BatchServiceClient } from "@azure/batch";
import type { BatchEmulator } from "./batch-emulator.js";
import { bearerClient, failure, poolBody, sharedKeyClient, startTestEmulator, waitFor } from "./sdk-test-helpers.js";

// Pins pools and nodes to shared/notes/AZURE-BATCH.md §3 (Pool and ComputeNode rows), §5 and §6.
describe("Batch emulator: pools, nodes and autoscale", () => {
  let emulator: BatchEmulator;
  let batch: BatchServiceClient;
  before(async () => {
    // Allocations and deletions take a second, so a second call reliably lands while one is in progress.
    emulator = await startTestEmulator({ quotas: { dedicatedCores: 8, lowPriorityCores: 4, pools: 6 }, timing: { allocationMs: 1000, deleteMs: 1000 } });
    batch = sharedKeyClient(emulator);
  });
  after(async () => {
    await emulator.stop();
  });

  const steady = (id: string) =>
    waitFor(`pool ${id} steady`, async () => {
      const pool = await batch.pool.get(id);
      return pool.allocationState === "steady" ? pool : undefined;
    });

  test("Pool Add answers 201; a second add of the same id (any case) gets 409 PoolExists", async () => {
    const added = await batch.pool.add(poolBody("pool-a", { targetDedicatedNodes: 2 }));
    assert.equal(added._response.status, 201);
    // §3 Task body: ids are case-insensitively unique (pools and jobs alike).
    const err = await failure(batch.pool.add(poolBody("POOL-A")));
    assert.equal(err.statusCode, 409);
    assert.equal(err.code, "PoolExists");
  });

  test("a new pool resizes, then reaches steady with its nodes idle", async () => {
    const first = await batch.pool.get("pool-a");
    assert.equal(first.state, "active");
    const pool = await steady("pool-a");
    assert.equal(pool.currentDedicatedNodes, 2);
    assert.equal(pool.targetDedicatedNodes, 2);
    assert.equal(pool.resizeErrors, undefined);
    const nodes = await waitFor("idle nodes", async () => {
      const list = await batch.computeNode.list("pool-a");
      return list.every((node) => node.state === "idle") && list.length === 2 ? list : undefined;
    });
    assert.ok(nodes.every((node) => node.isDedicated === true && node.schedulingState === "enabled"));
    // §3 ComputeNode List: $filter on state, $select.
    const idle = await batch.computeNode.list("pool-a", { computeNodeListOptions: { filter: "state eq 'idle'", select: "id,state" } });
    assert.deepEqual(idle.map((n) => ({ ...n })), nodes.map((n) => ({ id: n.id, state: "idle" })));
    assert.equal((await batch.computeNode.list("pool-a", { computeNodeListOptions: { filter: "state eq 'running'" } })).length, 0);
    const missing = await failure(batch.computeNode.list("no-such-pool"));
    assert.equal(missing.code, "PoolNotFound");
  });

  test("Pool Get of a missing pool is 404 PoolNotFound; Pool Exists answers true/false", async () => {
    const err = await failure(batch.pool.get("no-such-pool"));
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, "PoolNotFound");
    // §2 "SDK behaviours": pool.exists resolves false on 404 (HEAD, no body).
    assert.equal((await batch.pool.exists("no-such-pool")).body, false);
    assert.equal((await batch.pool.exists("POOL-A")).body, true);
  });

  test("Pool Add refuses bad bodies with the property named", async () => {
    const missing = await failure(batch.pool.add({ id: "p-bad", vmSize: "Standard_D2s_v3" } as never));
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.code, "MissingRequiredProperty");
    assert.deepEqual((missing.body as { values: unknown[] }).values, [{ key: "PropertyName", value: "virtualMachineConfiguration" }]);
    const badId = await failure(batch.pool.add(poolBody("has a space")));
    assert.equal(badId.code, "InvalidPropertyValue");
    // §5: resizeTimeout below 5 minutes is a 400.
    const shortTimeout = await failure(batch.pool.add(poolBody("p-short", { resizeTimeout: "PT1M" })));
    assert.equal(shortTimeout.code, "InvalidPropertyValue");
  });

  test("Pool Resize answers 202, is refused while resizing (409 PoolBeingResized), and shrinks", async () => {
    const answer = await batch.pool.resize("pool-a", { targetDedicatedNodes: 1 });
    assert.equal(answer._response.status, 202);
    const err = await failure(batch.pool.resize("pool-a", { targetDedicatedNodes: 3 }));
    assert.equal(err.statusCode, 409);
    assert.equal(err.code, "PoolBeingResized");
    const pool = await steady("pool-a");
    assert.equal(pool.currentDedicatedNodes, 1);
  });

  test("Pool List filters with $filter, projects with $select, and pages with odata.nextLink", async () => {
    await batch.pool.add(poolBody("pool-b"));
    await batch.pool.add(poolBody("other-c"));
    const filtered = await batch.pool.list({ poolListOptions: { filter: "startswith(id,'pool-')", select: "id,state" } });
    assert.deepEqual(
      filtered.map((p) => ({ ...p })),
      [
        { id: "pool-a", state: "active" },
        { id: "pool-b", state: "active" },
      ],
    );
    const firstPage = await batch.pool.list({ poolListOptions: { maxResults: 2, select: "id" } });
    assert.equal(firstPage.length, 2);
    assert.ok(firstPage.odatanextLink !== undefined);
    const secondPage = await batch.pool.listNext(firstPage.odatanextLink ?? "");
    assert.deepEqual([...firstPage, ...secondPage].map((p) => p.id), ["other-c", "pool-a", "pool-b"]);
    assert.equal(secondPage.odatanextLink, undefined);
    const bad = await failure(batch.pool.list({ poolListOptions: { filter: "color eq 'blue'" } }));
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.code, "InvalidQueryParameterValue");
  });

  test("the dedicated core quota caps a resize and shows as a resize error; more quota lets the next resize through", async () => {
    // §5 "Resize error codes": AccountCoreQuotaReached, reported once back to steady. Quota 8 cores, D2 = 2 cores.
    await batch.pool.add(poolBody("pool-quota", { targetDedicatedNodes: 5 }));
    const capped = await steady("pool-quota");
    assert.equal(capped.currentDedicatedNodes, 3);
    assert.equal(capped.resizeErrors?.[0]?.code, "AccountCoreQuotaReached");
    emulator.faults.setQuotas({ dedicatedCores: 20 });
    await batch.pool.resize("pool-quota", { targetDedicatedNodes: 5 });
    const grown = await steady("pool-quota");
    assert.equal(grown.currentDedicatedNodes, 5);
    assert.equal(grown.resizeErrors, undefined);
    await batch.pool.resize("pool-quota", { targetDedicatedNodes: 0 });
    await steady("pool-quota");
  });

  test("an injected allocation failure shows as resize error AllocationFailed", async () => {
    emulator.faults.allocation({ poolId: "pool-b", code: "AllocationFailed", message: "Allocation failed." });
    await batch.pool.resize("pool-b", { targetLowPriorityNodes: 1 });
    const pool = await steady("pool-b");
    assert.equal(pool.currentLowPriorityNodes, 0);
    assert.deepEqual(pool.resizeErrors?.map((e) => e.code), ["AllocationFailed"]);
  });

  test("the pool quota refuses Pool Add with 409 PoolQuotaReached", async () => {
    // Six pools allowed: pool-a, pool-b, other-c, pool-quota, plus two more.
    await batch.pool.add(poolBody("fill-1"));
    await batch.pool.add(poolBody("fill-2"));
    const err = await failure(batch.pool.add(poolBody("one-too-many")));
    assert.equal(err.statusCode, 409);
    assert.equal(err.code, "PoolQuotaReached");
  });

  test("Pool Delete answers 202, the pool shows deleting, then PoolNotFound; a second delete is 409 PoolBeingDeleted", async () => {
    const answer = await batch.pool.deleteMethod("fill-2");
    assert.equal(answer._response.status, 202);
    const pool = await batch.pool.get("fill-2");
    assert.equal(pool.state, "deleting");
    const again = await failure(batch.pool.deleteMethod("fill-2"));
    assert.equal(again.statusCode, 409);
    assert.equal(again.code, "PoolBeingDeleted");
    await waitFor("pool gone", async () => ((await batch.pool.exists("fill-2")).body ? undefined : true));
    await batch.pool.deleteMethod("fill-1");
  });

  test("an autoscale pool evaluates its formula at once and scales to it (bearer-token client)", async () => {
    const viaBearer = bearerClient(emulator);
    await viaBearer.pool.add(
      poolBody("pool-auto", {
        enableAutoScale: true,
        autoScaleFormula: "$TargetDedicatedNodes = 1; $NodeDeallocationOption = taskcompletion;",
        autoScaleEvaluationInterval: "PT5M",
      }),
    );
    const pool = await steady("pool-auto");
    assert.equal(pool.enableAutoScale, true);
    assert.equal(pool.currentDedicatedNodes, 1);
    // §3 Pool EvaluateAutoScale: results "$TargetDedicatedNodes=1;$NodeDeallocationOption=…".
    assert.match(pool.autoScaleRun?.results ?? "", /\$TargetDedicatedNodes=1;\$TargetLowPriorityNodes=0;\$NodeDeallocationOption=taskcompletion/);
    // §5: no manual resize of an autoscale pool.
    const err = await failure(viaBearer.pool.resize("pool-auto", { targetDedicatedNodes: 2 }));
    assert.equal(err.statusCode, 409);
  });

  test("Evaluate AutoScale returns an AutoScaleRun without changing the pool; syntax errors are 400", async () => {
    const run = await batch.pool.evaluateAutoScale("pool-auto", "n = 2 + 1; $TargetDedicatedNodes = min(n, 2);");
    assert.match(run.results ?? "", /^\$TargetDedicatedNodes=2;/);
    assert.ok(run.timestamp instanceof Date);
    assert.equal((await batch.pool.get("pool-auto")).targetDedicatedNodes, 1);
    const syntax = await failure(batch.pool.evaluateAutoScale("pool-auto", "$TargetDedicatedNodes = ;"));
    assert.equal(syntax.statusCode, 400);
    assert.equal(syntax.code, "AutoScalingFormulaSyntaxError");
    // A formula that cannot be evaluated comes back as AutoScaleRun.error, not as an HTTP error.
    const evalError = await batch.pool.evaluateAutoScale("pool-auto", "$TargetDedicatedNodes = $PendingTasks.GetSample(1);");
    assert.ok(evalError.error !== undefined);
    // §3: Evaluate AutoScale needs autoscale on.
    const off = await failure(batch.pool.evaluateAutoScale("pool-a", "$TargetDedicatedNodes = 1;"));
    assert.equal(off.statusCode, 409);
  });

  test("Enable AutoScale answers 200 and rescales; an interval under 5 minutes is 400 InvalidAutoScalingSettings", async () => {
    const answer = await batch.pool.enableAutoScale("pool-auto", { autoScaleFormula: "$TargetDedicatedNodes = 0;" });
    assert.equal(answer._response.status, 200);
    const pool = await waitFor("scaled to zero", async () => {
      const p = await batch.pool.get("pool-auto");
      return p.allocationState === "steady" && p.currentDedicatedNodes === 0 ? p : undefined;
    });
    assert.equal(pool.targetDedicatedNodes, 0);
    const strict = await startTestEmulator({ timing: { minAutoScaleEvaluationIntervalMs: 5 * 60_000 } });
    try {
      const err = await failure(
        sharedKeyClient(strict).pool.add(poolBody("p", { enableAutoScale: true, autoScaleFormula: "$TargetDedicatedNodes=0;", autoScaleEvaluationInterval: "PT1M" })),
      );
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, "InvalidAutoScalingSettings");
    } finally {
      await strict.stop();
    }
  });
});
