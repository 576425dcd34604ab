/**
 * 5,000 tasks through the Azure Batch backend and the Batch emulator, driven as the worker drives a
 * backend (submits of up to 100 attempts, polls of 100 handles every second, results read, ended
 * attempts released). Reports the Batch requests per task by operation and the tasks/s reached.
 * The node-side program is a stand-in that writes a result document at once, so the figures measure
 * the Batch control path (backend + emulator), not containers. BENCH_BATCH_TASKS changes the count.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { Attempt } from "../../worker/backends/compute-backend.js";
import { createAzureBatchBackend } from "../../worker/backends/azure-batch/create-azure-batch-backend.js";
import { startBatchEmulator } from "../emulators/batch/batch-emulator.js";
import type { BenchOptions, BenchResult, Figure } from "./bench-result.js";

const SUBMIT_BATCH = 100;
const POLL_BATCH = 100;
const POLL_INTERVAL_MS = 1000;
/** Per-task reads and clean-up that no bulk call can replace: excluded from the amortised figure. */
const PER_TASK_OPERATIONS = new Set(["File_GetFromTask", "Task_Delete"]);

export async function bench({ log }: BenchOptions): Promise<BenchResult> {
  const total = Number(process.env.BENCH_BATCH_TASKS ?? "5000");
  const scratch = await mkdtemp(path.join(os.tmpdir(), "tes-batch-bench-"));
  const program = path.join(scratch, "runner.sh");
  await writeFile(
    program,
    `#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in --result) r="$2"; shift 2;; *) shift;; esac; done\nprintf '%s' '{"version":1,"outcome":"complete","executors":[{"exitCode":0}],"outputs":[],"systemLogs":[]}' > "$r"\n`,
  );
  await chmod(program, 0o755);
  const emulator = await startBatchEmulator({
    timing: { autoScaleSampleIntervalMs: 250, autoScaleEvaluationEveryMs: 500 },
    quotas: { dedicatedCores: 10_000 },
    baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const backend = await createAzureBatchBackend({
    AZURE_BATCH_ACCOUNT_URL: emulator.url,
    AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
    AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
    AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
    AZURE_BATCH_RUNNER: program,
    AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "2",
    AZURE_BATCH_MAX_NODES_PER_POOL: "16",
  });
  try {
    const attempts: Attempt[] = Array.from({ length: total }, () => {
      const task = create(TaskSchema, {
        id: uuidv7(),
        state: State.QUEUED,
        creationTime: new Date().toISOString(),
        executors: [create(ExecutorSchema, { image: "alpine:3", command: ["true"] })],
        resources: create(ResourcesSchema, { cpuCores: 1 }),
      });
      return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
    });
    const started = Date.now();
    const live = new Set<string>();
    let submitted = 0;
    let ended = 0;
    const submitting = (async () => {
      for (let i = 0; i < attempts.length; i += SUBMIT_BATCH * 4) {
        const rounds = [0, 1, 2, 3].map((k) => attempts.slice(i + k * SUBMIT_BATCH, i + (k + 1) * SUBMIT_BATCH)).filter((a) => a.length > 0);
        const outcomes = (await Promise.all(rounds.map((batch) => backend.submit(batch)))).flat();
        for (const outcome of outcomes) {
          if (outcome.kind !== "submitted") throw new Error(`submit answered ${JSON.stringify(outcome)}`);
          live.add(outcome.handle);
        }
        submitted += outcomes.length;
      }
    })();
    let lastLog = 0;
    while (ended < total) {
      const handles = [...live];
      const batches: string[][] = [];
      for (let i = 0; i < handles.length; i += POLL_BATCH) batches.push(handles.slice(i, i + POLL_BATCH));
      await Promise.all(
        batches.map(async (batch) => {
          const statuses = await backend.poll(batch);
          const done = batch.filter((_, i) => statuses[i]?.phase === "ended");
          for (const status of statuses) {
            if (status.phase === "unknown" || (status.phase === "ended" && status.result.outcome !== "complete")) {
              throw new Error(`an attempt ended badly: ${JSON.stringify(status)}`);
            }
          }
          if (done.length > 0) {
            await backend.release(done);
            for (const handle of done) live.delete(handle);
            ended += done.length;
          }
        }),
      );
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`${submitted} submitted, ${ended} ended, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
      if (Date.now() - started > 20 * 60_000) throw new Error(`only ${ended} of ${total} tasks ended in 20 minutes`);
      if (ended < total) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    await submitting;
    const seconds = (Date.now() - started) / 1000;
    const counts = emulator.counts();
    const figures: Record<string, Figure> = {
      "batch.tasks": { value: total, unit: "tasks" },
      "batch.tasksPerSecond": { value: Number((total / seconds).toFixed(1)), unit: "tasks/s" },
    };
    let amortised = 0;
    let all = 0;
    for (const [operation, count] of Object.entries(counts)) {
      figures[`batch.requestsPerTask.${operation}`] = { value: Number((count / total).toFixed(4)), unit: "req/task" };
      all += count;
      if (!PER_TASK_OPERATIONS.has(operation)) amortised += count;
    }
    figures["batch.requestsPerTask.amortised"] = { value: Number((amortised / total).toFixed(4)), unit: "req/task (target <= 0.2)" };
    figures["batch.requestsPerTask.all"] = { value: Number((all / total).toFixed(4)), unit: "req/task" };
    log(`${total} tasks in ${seconds.toFixed(1)} s; requests ${JSON.stringify(counts)}`);
    return { figures, ratios: {} };
  } finally {
    await backend.close();
    await emulator.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
