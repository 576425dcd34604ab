import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, ResourcesSchema, State, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { IMAGE_RUNNER_COMMAND, loadAzureBatchConfig } from "../../../src/config/azure-batch.js";
import { splitCommandLine } from "../../../test/emulators/batch/command-line.js";
import { startBatchEmulator, type BatchEmulator } from "../../../test/emulators/batch/batch-emulator.js";
import type { Attempt, AttemptStatus } from "../compute-backend.js";
import { poolAddParameter, poolPlan, taskAddParameter } from "./batch-specs.js";
import { createAzureBatchBackend } from "./create-azure-batch-backend.js";
import { startScript } from "./node-preparation.js";

const run = promisify(execFile);
const URL_ENV = { AZURE_BATCH_ACCOUNT_URL: "https://acct.westeurope.batch.azure.com", AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true" };
const RUNNER_IMAGE = "myacr.azurecr.io/tes/server:1.2.3";

function attempt(): Attempt {
  const task = create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    executors: [create(ExecutorSchema, { image: "alpine:3", command: ["true"] })],
    resources: create(ResourcesSchema, { cpuCores: 1 }),
  });
  return { taskId: task.id, attempt: 0, attemptId: `${task.id}-0`, task };
}

/** Runs a Batch command line as the node agent splits it (no shell around it), in a clean environment. */
async function runCommandLine(commandLine: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, ...args] = splitCommandLine(commandLine);
  try {
    const { stdout, stderr } = await run(file ?? "", args, { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("the node-side sequence in production: container pools, the runner image, docker executors", () => {
  const config = loadAzureBatchConfig({ ...URL_ENV, AZURE_BATCH_RUNNER_IMAGE: RUNNER_IMAGE });

  test("the pool: a Docker marketplace image, container-enabled, the runner image prefetched, a start task checking the node as admin", () => {
    const pool = poolAddParameter(config, poolPlan(config, config.vmSizes[0]!, false));
    assert.deepEqual(pool.virtualMachineConfiguration, {
      imageReference: { publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" },
      nodeAgentSKUId: "batch.node.ubuntu 22.04",
      containerConfiguration: { containerImageNames: [RUNNER_IMAGE] },
    });
    assert.deepEqual({ ...pool.startTask, commandLine: undefined }, {
      commandLine: undefined,
      waitForSuccess: true,
      maxTaskRetryCount: 1,
      userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } },
    });
    assert.deepEqual(splitCommandLine(pool.startTask?.commandLine ?? ""), ["/bin/sh", "-c", startScript(RUNNER_IMAGE)]);
  });

  test("the task: the runner in the runner image, executors through the node's Docker socket", () => {
    const a = attempt();
    const task = taskAddParameter(config, a);
    assert.deepEqual(task.containerSettings, { imageName: RUNNER_IMAGE, containerRunOptions: "--rm -v /var/run/docker.sock:/var/run/docker.sock" });
    const [shell, flag, script] = splitCommandLine(task.commandLine);
    assert.deepEqual([shell, flag], ["/bin/sh", "-c"]);
    assert.match(script ?? "", new RegExp(`exec ${IMAGE_RUNNER_COMMAND} run --task "\\$AZ_BATCH_TASK_WORKING_DIR"/task\\.json --workdir "\\$AZ_BATCH_TASK_WORKING_DIR"/attempt --result "\\$AZ_BATCH_TASK_WORKING_DIR"/result\\.json --attempt-id '${a.attemptId}' --runtime docker$`));
    assert.deepEqual(task.userIdentity, { autoUser: { scope: "pool", elevationLevel: "admin" } });
  });

  test("both scripts are valid POSIX sh; the start task refuses a node without docker, saying so", async () => {
    await run("/bin/sh", ["-n", "-c", startScript(RUNNER_IMAGE)]);
    await run("/bin/sh", ["-n", "-c", splitCommandLine(taskAddParameter(config, attempt()).commandLine)[2] ?? ""]);
    const empty = await mkdtemp(path.join(os.tmpdir(), "tes-no-docker-"));
    try {
      const pool = poolAddParameter(config, poolPlan(config, config.vmSizes[0]!, false));
      const result = await runCommandLine(pool.startTask?.commandLine ?? "", { PATH: empty });
      assert.equal(result.code, 10);
      assert.match(result.stderr, /tes: no docker client on this node; use a container-enabled image \(AZURE_BATCH_IMAGE\)/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("a node whose start task fails, at the emulator: the queued task says why", () => {
  let emulator: BatchEmulator;
  let empty: string;
  before(async () => {
    empty = await mkdtemp(path.join(os.tmpdir(), "tes-no-docker-"));
    // Nodes with no docker on their PATH: the generated start task runs there and fails.
    emulator = await startBatchEmulator({ timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 }, baseEnv: { PATH: `${empty}:/usr/bin:/bin` } });
  });
  after(async () => {
    await emulator.stop();
    await rm(empty, { recursive: true, force: true });
  });

  test("the attempt stays queued with the start task's failure and the node to look at", async () => {
    const backend = await createAzureBatchBackend({
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT: "true",
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER_IMAGE: RUNNER_IMAGE,
      AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
      AZURE_BATCH_MAX_RETRY_DELAY_MS: "200",
    });
    try {
      const [outcome] = await backend.submit([attempt()]);
      assert.equal(outcome?.kind, "submitted");
      const handle = outcome?.kind === "submitted" ? outcome.handle : "";
      let status: AttemptStatus | undefined;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        [status] = await backend.poll([handle]);
        if (status?.phase === "queued" && status.reason !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(status?.phase, "queued", JSON.stringify(status));
      assert.match(status?.phase === "queued" ? (status.reason ?? "") : "", /the start task failed on 1 node\(s\) of pool tes-.* \(FailureExitCode, exit code 10\); its stderr\.txt on node .* says why/);
      await backend.cancel([handle]);
      await backend.release([handle]);
    } finally {
      await backend.close();
    }
  });
});
