import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { ConfigError } from "../../../src/config/env-reader.js";
import { DEFAULT_VM_SIZES, loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { startBatchEmulator, type BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import type { Attempt, AttemptStatus, ComputeBackend } from "../compute-backend.js";
import type { AzureBatchBackend } from "./azure-batch-backend.js";
import { createAzureBatchBackend } from "./create-azure-batch-backend.js";
import { chooseVmSize } from "./vm-size-catalog.js";
import { autoScaleFormula, poolPlan } from "./batch-specs.js";
import { evaluateFormula, parseFormula, type Sample } from "../../../test/emulators/batch/autoscale-formula.js";

/**
 * How the backend uses Batch, observed at the emulator: bulk submissions, one list per job per poll,
 * throttling and lost answers survived, preemption, quota. The node-side program here is a small
 * stand-in for the runner that writes a result document (the conformance suite runs the real one),
 * so these tests measure Batch traffic, not containers.
 */
const scratch = await mkdtemp(path.join(os.tmpdir(), "tes-batch-backend-"));
const holdFile = path.join(scratch, "hold");
const nodeProgram = path.join(scratch, "runner.sh");
await writeFile(
  nodeProgram,
  `#!/bin/sh
# Stand-in runner: run --task T --workdir W --result R ...; waits while $HOLD_FILE exists.
while [ $# -gt 0 ]; do case "$1" in --result) result="$2"; shift 2;; *) shift;; esac; done
while [ -e "$HOLD_FILE" ]; do sleep 0.05; done
printf '%s' '{"version":1,"outcome":"complete","executors":[{"exitCode":0}],"outputs":[],"systemLogs":[]}' > "$result"
`,
);
await chmod(nodeProgram, 0o755);

function attempt(options: { preemptible?: boolean; cpuCores?: number; vmSize?: string } = {}): Attempt {
  const task = create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    creationTime: new Date().toISOString(),
    executors: [create(ExecutorSchema, { image: "alpine:3", command: ["true"] })],
    resources: create(ResourcesSchema, {
      cpuCores: options.cpuCores ?? 1,
      ...(options.preemptible === undefined ? {} : { preemptible: options.preemptible }),
      backendParameters: options.vmSize === undefined ? {} : { vm_size: options.vmSize },
    }),
  });
  return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
}

async function submitted(backend: ComputeBackend, attempts: Attempt[]): Promise<string[]> {
  const outcomes = await backend.submit(attempts);
  return outcomes.map((outcome) => {
    assert.equal(outcome.kind, "submitted", JSON.stringify(outcome));
    return outcome.kind === "submitted" ? outcome.handle : "";
  });
}

async function until(backend: ComputeBackend, handles: string[], done: (s: AttemptStatus) => boolean, timeoutMs = 45_000): Promise<AttemptStatus[]> {
  const deadline = Date.now() + timeoutMs;
  let statuses: AttemptStatus[] = [];
  while (Date.now() < deadline) {
    statuses = await backend.poll(handles);
    if (statuses.every(done)) return statuses;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out; last statuses ${JSON.stringify(statuses.slice(0, 3))}`);
}

const ended = (s: AttemptStatus) => s.phase === "ended";

describe("Azure Batch backend against the Batch emulator", () => {
  let emulator: BatchEmulator;
  let backend: ComputeBackend;
  before(async () => {
    emulator = await startBatchEmulator({
      timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 },
      baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOLD_FILE: holdFile },
      quotas: { lowPriorityCores: 4 },
    });
    backend = await createAzureBatchBackend({
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER: nodeProgram,
      AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
      AZURE_BATCH_MAX_NODES_PER_POOL: "20",
      AZURE_BATCH_MAX_RETRY_DELAY_MS: "200",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
    });
  });
  after(async () => {
    await backend.close();
    await emulator.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test("250 attempts go in 3 AddCollection calls, and a poll cycle costs one Task List per job", async () => {
    emulator.resetCounts();
    const handles = await submitted(backend, Array.from({ length: 250 }, () => attempt()));
    const afterSubmit = emulator.counts();
    assert.equal(afterSubmit.Task_AddCollection, 3);
    assert.equal(afterSubmit.Task_Add, undefined);
    assert.equal(new Set(handles).size, 250);
    emulator.resetCounts();
    // The worker polls in batches of handles; the batches of one cycle share the job's list.
    await Promise.all([backend.poll(handles.slice(0, 100)), backend.poll(handles.slice(100, 200)), backend.poll(handles.slice(200))]);
    const perPoll = emulator.counts();
    assert.equal(perPoll.Task_List, 1, JSON.stringify(perPoll));
    assert.equal(perPoll.Task_Get, undefined);
    const statuses = await until(backend, handles, ended, 60_000);
    assert.ok(statuses.every((s) => s.phase === "ended" && s.result.outcome === "complete"));
    await backend.release(handles);
  });

  test("a storm of 429s with Retry-After on every operation loses no task", async () => {
    // Within the retry budget of each call (AZURE_BATCH_MAX_RETRIES, default 6); beyond it a call fails
    // and the worker retries the submission later.
    emulator.faults.http({ status: 429, retryAfterSeconds: 0, times: 4 });
    emulator.faults.http({ status: 503, times: 1 });
    const handles = await submitted(backend, Array.from({ length: 20 }, () => attempt()));
    emulator.faults.http({ operation: "Task_List", status: 429, retryAfterSeconds: 0, times: 3 });
    const statuses = await until(backend, handles, ended);
    assert.ok(statuses.every((s) => s.phase === "ended" && s.result.outcome === "complete"));
    await backend.release(handles);
  });

  test("AddCollection serverError tasks are resent, and a lost answer is resent without running a task twice", async () => {
    emulator.faults.addCollection({ tasks: 2 });
    const first = await submitted(backend, [attempt(), attempt(), attempt()]);
    emulator.faults.http({ operation: "Task_AddCollection", status: 500, when: "after" });
    const lost = [attempt(), attempt()];
    const second = await submitted(backend, lost);
    await until(backend, [...first, ...second], ended);
    const [jobId, taskId] = (second[0] ?? "").split("/") as [string, string];
    const task = emulator.account.getTask(jobId, taskId);
    assert.equal(task.execution.retryCount, 0);
    assert.equal(task.state, "completed");
    await backend.release([...first, ...second]);
  });

  test("a second submit of a submitted attempt answers the same handle", async () => {
    const one = attempt();
    const [a] = await submitted(backend, [one]);
    const [b] = await submitted(backend, [one]);
    assert.equal(a, b);
    await until(backend, [a ?? ""], ended);
    await backend.release([a ?? ""]);
  });

  test("a preempted low-priority attempt is reported preempted and its Batch task is stopped", async () => {
    await writeFile(holdFile, "");
    try {
      const [handle] = await submitted(backend, [attempt({ preemptible: true })]);
      await until(backend, [handle ?? ""], (s) => s.phase === "running");
      const [jobId, taskId] = (handle ?? "").split("/") as [string, string];
      emulator.faults.preemptNode(jobId, { recoverAfterMs: 100 });
      const [status] = await backend.poll([handle ?? ""]);
      assert.equal(status?.phase, "preempted");
      // Batch would rerun a requeued task beside the worker's new attempt; the backend stops it.
      assert.equal(emulator.account.getTask(jobId, taskId).state, "completed");
      await backend.release([handle ?? ""]);
    } finally {
      await rm(holdFile, { force: true });
    }
  });

  test("a core quota that blocks the pool keeps the attempt queued with the reason; it runs once quota comes back", async () => {
    emulator.faults.setQuotas({ lowPriorityCores: 0 });
    // A size of its own so the pool is new and sized from scratch.
    const [handle] = await submitted(backend, [attempt({ preemptible: true, vmSize: "Standard_D4s_v3" })]);
    const [queued] = await until(backend, [handle ?? ""], (s) => s.phase === "queued" && s.reason !== undefined);
    assert.match(queued?.phase === "queued" ? (queued.reason ?? "") : "", /AccountLowPriorityCoreQuotaReached/);
    emulator.faults.setQuotas({ lowPriorityCores: 16 });
    const [done] = await until(backend, [handle ?? ""], ended);
    assert.equal(done?.phase === "ended" ? done.result.outcome : done?.phase, "complete");
    await backend.release([handle ?? ""]);
  });

  test("the pool quota blocks a submission with a reason instead of failing it", async () => {
    emulator.faults.setQuotas({ pools: 0 });
    try {
      const [outcome] = await backend.submit([attempt({ vmSize: "Standard_E8s_v3", cpuCores: 8 })]);
      assert.equal(outcome?.kind, "blocked");
      assert.match(outcome?.kind === "blocked" ? outcome.reason : "", /pool quota/);
    } finally {
      emulator.faults.setQuotas({ pools: 100 });
    }
  });

  test("without an account key it authenticates with Microsoft Entra ID, asking for the Batch scope", async () => {
    const scopes: string[] = [];
    const credential = {
      async getToken(asked: string | string[]) {
        const scope = Array.isArray(asked) ? (asked[0] ?? "") : asked;
        scopes.push(scope);
        const exp = Math.floor(Date.now() / 1000) + 3600;
        const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
        return { token: `${part({ alg: "RS256" })}.${part({ aud: scope.replace(/\/\.default$/, ""), exp })}.c2ln`, expiresOnTimestamp: exp * 1000 };
      },
    };
    const entra = await createAzureBatchBackend(
      { AZURE_BATCH_ACCOUNT_URL: emulator.url, AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true", AZURE_BATCH_ACCOUNT_NAME: emulator.accountName, AZURE_BATCH_RUNNER: nodeProgram, AZURE_BATCH_LIST_INTERVAL_MS: "0" },
      { credential },
    );
    try {
      const [handle] = await submitted(entra, [attempt()]);
      const [status] = await until(entra, [handle ?? ""], ended);
      assert.equal(status?.phase === "ended" ? status.result.outcome : status?.phase, "complete");
      await entra.release([handle ?? ""]);
      // §1 "SDK trap": the Batch audience, never management.azure.com.
      assert.ok(scopes.length > 0 && scopes.every((scope) => scope === "https://batch.core.windows.net//.default"));
    } finally {
      await entra.close();
    }
  });

  test("an attempt no VM size fits, or naming a VM size outside the catalog, is rejected", async () => {
    const [tooBig, unknown] = await backend.submit([attempt({ cpuCores: 512 }), attempt({ vmSize: "Standard_X99" })]);
    assert.equal(tooBig?.kind, "rejected");
    assert.equal(unknown?.kind, "rejected");
    assert.match(unknown?.kind === "rejected" ? unknown.reason : "", /Standard_X99/);
  });
  test("a pool whose job holds no task for AZURE_BATCH_POOL_IDLE_MS is deleted with its job, and made again when needed", async () => {
    const idle = (await createAzureBatchBackend({
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER: nodeProgram,
      AZURE_BATCH_POOL_IDLE_MS: "0",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
    })) as AzureBatchBackend;
    try {
      const [handle] = await submitted(idle, [attempt({ vmSize: "Standard_D16s_v3" })]);
      const poolId = (handle ?? "").split("/")[0] ?? "";
      await until(idle, [handle ?? ""], ended);
      // Runs last: it also deletes the idle pools the earlier tests left.
      assert.ok(!(await idle.sweepIdlePools()).includes(poolId), "a pool with an unreleased task is not idle");
      await idle.release([handle ?? ""]);
      assert.ok((await idle.sweepIdlePools()).includes(poolId));
      await waitGone(poolId);
      const [again] = await submitted(idle, [attempt({ vmSize: "Standard_D16s_v3" })]);
      const [status] = await until(idle, [again ?? ""], ended);
      assert.equal(status?.phase === "ended" ? status.result.outcome : status?.phase, "complete");
      await idle.release([again ?? ""]);
    } finally {
      await idle.close();
    }
  });

  async function waitGone(poolId: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (emulator.account.pools.has(poolId.toLowerCase()) || emulator.account.jobs.has(poolId.toLowerCase())) {
      if (Date.now() > deadline) assert.fail(`pool ${poolId} was not deleted`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
});

describe("Azure Batch backend configuration and VM sizes", () => {
  test("the cheapest size that fits wins, at the task's priority", () => {
    const choice = chooseVmSize(DEFAULT_VM_SIZES, { cpuCores: 3, ramGb: 20, diskGb: 10, lowPriority: false });
    assert.equal(choice.ok && choice.size.name, "Standard_E4s_v3");
    const named = chooseVmSize(DEFAULT_VM_SIZES, { cpuCores: 1, ramGb: 1, diskGb: 1, lowPriority: true }, "standard_d8s_v3");
    assert.equal(named.ok && named.size.name, "Standard_D8s_v3");
    const tooSmall = chooseVmSize(DEFAULT_VM_SIZES, { cpuCores: 4, ramGb: 1, diskGb: 1, lowPriority: true }, "Standard_D2s_v3");
    assert.equal(tooSmall.ok, false);
  });

  test("the autoscale formula follows pending tasks, keeps a young pool at one node and scales an idle one to zero", () => {
    const config = loadAzureBatchConfig({ AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com", AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true", AZURE_BATCH_MAX_NODES_PER_POOL: "5" });
    const plan = poolPlan(config, DEFAULT_VM_SIZES[0]!, true);
    const now = Date.parse("2026-01-01T12:00:00Z");
    const run = (createdMinutesAgo: number, pending: number[]) => {
      const series = (values: number[]): Sample[] => values.map((value, i) => ({ atMs: now - (values.length - 1 - i) * 30_000, value }));
      const statements = parseFormula(autoScaleFormula(config, plan, new Date(now - createdMinutesAgo * 60_000)));
      return evaluateFormula(statements, {
        nowMs: now,
        sampleIntervalMs: 30_000,
        series: { $ActiveTasks: series(pending), $RunningTasks: series(pending.map(() => 0)), $PendingTasks: series(pending), $SucceededTasks: [], $FailedTasks: [] },
        numbers: { $CurrentDedicatedNodes: 0, $CurrentLowPriorityNodes: 0, $PreemptedNodeCount: 0, $UsableNodeCount: 0 },
      });
    };
    assert.equal(run(0, []).targetLowPriorityNodes, 1);
    assert.equal(run(1, [0, 0]).targetLowPriorityNodes, 1);
    assert.equal(run(30, [2, 9, 3]).targetLowPriorityNodes, 5);
    assert.equal(run(30, [0, 0, 0, 0, 0, 0]).targetLowPriorityNodes, 0);
    assert.equal(run(30, [0, 0, 0, 0, 0, 0]).targetDedicatedNodes, 0);
    assert.equal(run(30, [1]).nodeDeallocationOption, "taskcompletion");
  });

  test("bad settings fail with the variable named and no secret echoed", () => {
    assert.throws(() => loadAzureBatchConfig({}), (err: Error) => err instanceof ConfigError && /AZURE_BATCH_ACCOUNT_URL/.test(err.message));
    assert.throws(
      () => loadAzureBatchConfig({ AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com", AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true", AZURE_BATCH_ACCOUNT_KEY: "not base64!secret" }),
      (err: Error) => err instanceof ConfigError && /AZURE_BATCH_ACCOUNT_KEY/.test(err.message) && !err.message.includes("secret"),
    );
    assert.throws(
      () => loadAzureBatchConfig({ AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com", AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true", AZURE_BATCH_VM_SIZES: '[{"name":"Standard_D2s_v3","cores":0}]' }),
      (err: Error) => err instanceof ConfigError && /AZURE_BATCH_VM_SIZES\[0\]\.cores/.test(err.message),
    );
    const config = loadAzureBatchConfig({ AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com", AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true" });
    assert.equal(config.accountName, "acct");
    assert.equal(config.accountKey, undefined);
  });
});
