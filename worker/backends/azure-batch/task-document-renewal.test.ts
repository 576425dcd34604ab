import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { loadAzureBatchConfig, type AzureBatchConfig } from "../../../src/config/azure-batch.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from "../../../filetransfer/test/support/azurite.js";
import { startBatchEmulator, type BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import type { Attempt, AttemptStatus } from "../compute-backend.js";
import { AzureBatchBackend } from "./azure-batch-backend.js";
import { batchClient, batchCredentials } from "./create-azure-batch-backend.js";
import { TaskDocuments } from "./task-documents.js";

/**
 * A task queued longer than its document's SAS lasts (AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS,
 * 300 s here, the least allowed): the backend adds it again with fresh URLs before they expire, under
 * the same id and handle. The backend's and the documents' clock is the test's, moved forward; the
 * SAS it signs is checked by Azurite against the real time, as Storage would.
 */
const TTL_SECONDS = 300;
const scratch = await mkdtemp(path.join(os.tmpdir(), "tes-batch-renewal-"));
const nodeProgram = path.join(scratch, "runner.sh");
// Stand-in runner: fails unless the task document downloaded, then writes a complete result.
await writeFile(
  nodeProgram,
  `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --result) result="$2"; shift 2;; *) shift;; esac; done
test -s "$AZ_BATCH_TASK_WORKING_DIR/task.json" || exit 7
printf '%s' '{"version":1,"outcome":"complete","executors":[{"exitCode":0}],"outputs":[],"systemLogs":[]}' > "$result"
`,
);
await chmod(nodeProgram, 0o755);

function attempt(): Attempt {
  const task = create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    executors: [create(ExecutorSchema, { image: "alpine:3", command: ["true"] })],
    // Low priority: the emulator's low-priority core quota holds it queued.
    resources: create(ResourcesSchema, { cpuCores: 1, preemptible: true }),
  });
  return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
}

describe("task document URLs renewed for long-queued tasks (Batch emulator, Azurite)", () => {
  let emulator: BatchEmulator;
  let azurite: Azurite;
  let config: AzureBatchConfig;
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;

  async function backend(clock: () => number = now, documentsClock: () => number = clock): Promise<AzureBatchBackend> {
    const client = batchClient(config, await batchCredentials(config));
    return new AzureBatchBackend(client, config, new TaskDocuments(config.taskDocuments!, undefined, { now: documentsClock }), { now: clock });
  }

  async function until(b: AzureBatchBackend, handle: string, done: (s: AttemptStatus) => boolean): Promise<AttemptStatus> {
    let status: AttemptStatus | undefined;
    for (let i = 0; i < 400; i += 1) {
      [status] = await b.poll([handle]);
      if (status !== undefined && done(status)) return status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail(`timed out; last status ${JSON.stringify(status)}`);
  }

  /** Lets nodes start: the task, queued until now, runs to completion, and its attempt is released. */
  async function runsToCompletion(b: AzureBatchBackend, handle: string): Promise<void> {
    emulator.faults.setQuotas({ lowPriorityCores: 16 });
    const ended = await until(b, handle, (s) => s.phase === "ended");
    assert.equal(ended.phase === "ended" ? ended.result.outcome : ended.phase, "complete", JSON.stringify(ended));
    await b.release([handle]);
  }

  /** No node is left from an earlier test to take a task that must stay queued. */
  async function noNodesLeft(): Promise<void> {
    const nodes = () => [...emulator.account.pools.values()].reduce((sum, pool) => sum + pool.nodes.size, 0);
    for (let i = 0; i < 600 && nodes() > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(nodes(), 0, "the pools scaled down to no node");
  }

  const storedTask = (handle: string) => {
    const [jobId, taskId] = handle.split("/") as [string, string];
    return emulator.account.jobs.get(jobId.toLowerCase())?.tasks.get(taskId.toLowerCase());
  };
  const documentUrl = (handle: string) => {
    const files = (storedTask(handle)?.spec.resourceFiles ?? []) as { httpUrl: string; filePath: string }[];
    return new URL(files.find((file) => file.filePath === "task.json")?.httpUrl ?? "http://missing");
  };

  before(async () => {
    azurite = await startAzurite();
    emulator = await startBatchEmulator({
      timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 },
      baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      quotas: { lowPriorityCores: 0 },
    });
    config = loadAzureBatchConfig({
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER: nodeProgram,
      AZURE_BATCH_TASK_DOCUMENTS_URL: `http://${azurite.host}/${AZURITE_ACCOUNT}/tes-renewal`,
      AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: AZURITE_KEY,
      AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS: `${TTL_SECONDS}`,
      AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
      AZURE_BATCH_MAX_RETRY_DELAY_MS: "200",
    });
  });
  after(async () => {
    await emulator.stop();
    await azurite.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test("a task still waiting near its SAS expiry is added again with a fresh SAS, same handle, then runs", async () => {
    emulator.faults.setQuotas({ lowPriorityCores: 0 });
    await noNodesLeft();
    offsetMs = 0;
    const b = await backend();
    try {
      const [outcome] = await b.submit([attempt()]);
      assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
      const handle = outcome?.kind === "submitted" ? outcome.handle : "";
      assert.equal((await until(b, handle, (s) => s.phase === "queued")).phase, "queued");
      const first = documentUrl(handle);
      const firstCreated = storedTask(handle)?.creationTime;

      // Not yet due: a poll changes nothing at Batch.
      offsetMs = 200_000;
      emulator.resetCounts();
      await b.poll([handle]);
      assert.equal(emulator.counts().Task_Delete, undefined);

      // Past the TTL less its margin (a quarter of it): renewed within the poll.
      offsetMs = 240_000;
      emulator.resetCounts();
      const [status] = await b.poll([handle]);
      assert.equal(status?.phase, "queued", JSON.stringify(status));
      const counts = emulator.counts();
      assert.equal(counts.Task_Delete, 1, JSON.stringify(counts));
      assert.equal(counts.Task_AddCollection, 1, JSON.stringify(counts));
      assert.equal(counts.Task_Get, undefined, "the body this process added is reused");
      const renewed = documentUrl(handle);
      assert.equal(renewed.pathname, first.pathname, "the same document blob");
      const expiry = (url: URL) => Date.parse(url.searchParams.get("se") ?? "");
      assert.ok(expiry(renewed) - expiry(first) >= 230_000, `expiry moved on: ${first.searchParams.get("se")} → ${renewed.searchParams.get("se")}`);
      assert.notEqual(storedTask(handle)?.creationTime, firstCreated);
      assert.equal((await fetch(renewed)).status, 200, "the renewed URL reads the document");

      // Just renewed: the next poll leaves it alone.
      emulator.resetCounts();
      await b.poll([handle]);
      assert.equal(emulator.counts().Task_Delete, undefined);

      await runsToCompletion(b, handle);
    } finally {
      await b.close();
    }
  });

  test("a worker that did not add the task (another one, or after a restart) renews it too, reading the task once", async () => {
    emulator.faults.setQuotas({ lowPriorityCores: 0 });
    await noNodesLeft();
    offsetMs = 0;
    const adder = await backend();
    const [outcome] = await adder.submit([attempt()]);
    await adder.close();
    const handle = outcome?.kind === "submitted" ? outcome.handle : "";
    const first = documentUrl(handle);
    offsetMs = 240_000;
    const other = await backend();
    try {
      emulator.resetCounts();
      const [status] = await other.poll([handle]);
      assert.equal(status?.phase, "queued", JSON.stringify(status));
      const counts = emulator.counts();
      assert.deepEqual([counts.Task_Get, counts.Task_Delete, counts.Task_AddCollection], [1, 1, 1], JSON.stringify(counts));
      assert.ok(Date.parse(documentUrl(handle).searchParams.get("se") ?? "") > Date.parse(first.searchParams.get("se") ?? ""));
      await runsToCompletion(other, handle);
    } finally {
      await other.close();
    }
  });

  /**
   * Submits a task that stays queued, moves the clock to when its documents are due, and polls with
   * the renewal's Task Delete held at the emulator for a moment: `meanwhile` runs once the delete
   * has arrived and before Batch acts on it, as a change at Batch between the list and the delete.
   */
  async function renewWhileTaskChanges(meanwhile: (handle: string) => Promise<void>): Promise<{ handle: string; first: URL; counts: Record<string, number>; b: AzureBatchBackend }> {
    emulator.faults.setQuotas({ lowPriorityCores: 0 });
    await noNodesLeft();
    offsetMs = 0;
    const b = await backend();
    const [outcome] = await b.submit([attempt()]);
    const handle = outcome?.kind === "submitted" ? outcome.handle : "";
    assert.equal((await until(b, handle, (s) => s.phase === "queued")).phase, "queued");
    const first = documentUrl(handle);
    offsetMs = 240_000;
    emulator.resetCounts();
    emulator.faults.http({ operation: "Task_Delete", delayMs: 1000 });
    const polled = b.poll([handle]);
    for (let i = 0; i < 200 && emulator.counts().Task_Delete === undefined; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(emulator.counts().Task_Delete, 1, "the renewal's delete has reached Batch");
    await meanwhile(handle);
    await polled;
    return { handle, first, counts: emulator.counts(), b };
  }

  test("a task that changed at Batch between the list and the delete (here ended by a Terminate) is not deleted nor added again", async () => {
    const { handle, first, counts, b } = await renewWhileTaskChanges(async (changed) => {
      const [jobId, taskId] = changed.split("/") as [string, string];
      await batchClient(config, await batchCredentials(config)).task.terminate(jobId, taskId);
    });
    try {
      assert.deepEqual([counts.Task_Delete, counts.Task_Get, counts.Task_AddCollection], [1, 1, undefined], JSON.stringify(counts));
      assert.equal(storedTask(handle)?.state, "completed", "the task Batch changed is still there, as Batch left it");
      assert.equal(documentUrl(handle).href, first.href, "its URLs are the ones it was added with");
    } finally {
      await b.close();
    }
  });

  test("a task whose ETag moved but that still waits for a node is deleted at its new ETag and renewed", async () => {
    const { handle, first, counts, b } = await renewWhileTaskChanges(async (changed) => {
      const task = storedTask(changed);
      assert.ok(task !== undefined);
      emulator.account.stamp(task);
    });
    try {
      assert.deepEqual([counts.Task_Delete, counts.Task_Get, counts.Task_AddCollection], [2, 1, 1], JSON.stringify(counts));
      assert.equal(storedTask(handle)?.state, "active");
      assert.ok(Date.parse(documentUrl(handle).searchParams.get("se") ?? "") > Date.parse(first.searchParams.get("se") ?? ""), "renewed");
      await runsToCompletion(b, handle);
    } finally {
      await b.close();
    }
  });

  test("a document whose SAS expired before a node took the task ends a system error with Batch's reason, never the user's executor error", async () => {
    emulator.faults.setQuotas({ lowPriorityCores: 16 });
    offsetMs = 0;
    // The documents were signed as if long ago: expired when the node downloads them. The backend's
    // clock is the real one, so it does not renew them first.
    const b = await backend(Date.now, () => Date.now() - (TTL_SECONDS + 600) * 1000);
    try {
      const [outcome] = await b.submit([attempt()]);
      const handle = outcome?.kind === "submitted" ? outcome.handle : "";
      assert.equal((await fetch(documentUrl(handle))).status, 403, "Azurite refuses the expired SAS");
      const ended = await until(b, handle, (s) => s.phase === "ended");
      assert.ok(ended.phase === "ended");
      assert.equal(ended.result.outcome, "system_error");
      assert.deepEqual(ended.result.executors, []);
      assert.match(ended.result.systemLogs.join("\n"), /Azure Batch ended the task: BlobAccessDenied/);
      await b.release([handle]);
    } finally {
      await b.close();
    }
  });
});
