import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { loadLocalBackendConfig, type LocalBackendConfig } from "../../../src/config/local-backend.js";
import { TaskSchema, type Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { leftoverProcesses } from "../../../test/support/leftover-processes.js";
import type { Attempt, AttemptStatus, ComputeBackend } from "../compute-backend.js";
import { AttemptDirectory } from "./attempt-directory.js";
import { LocalBackend } from "./local-backend.js";
import { identityOf } from "./process-identity.js";

type TaskInit = Parameters<typeof create<typeof TaskSchema>>[1];

let scratch: string;
const backends: LocalBackend[] = [];

before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "tes-local-backend-"));
});

after(async () => {
  await Promise.all(backends.map((backend) => backend.close()));
  await rm(scratch, { recursive: true, force: true });
});

function config(overrides: Partial<LocalBackendConfig> = {}): LocalBackendConfig {
  return {
    ...loadLocalBackendConfig({ TES_LOCAL_WORK_DIR: path.join(scratch, "work"), TES_CONTAINER_RUNTIME: "bwrap" }),
    allowedDirs: [path.join(scratch, "files")],
    ...overrides,
  };
}

function backend(overrides: Partial<LocalBackendConfig> = {}): LocalBackend {
  const created = new LocalBackend(config(overrides), { cancelCheckIntervalInMs: 50 });
  backends.push(created);
  return created;
}

let ids = 0;
function attempt(init: TaskInit): Attempt {
  ids += 1;
  const taskId = `task-${process.pid}-${ids}`;
  return { taskId, attempt: 0, attemptId: `${taskId}-0`, task: create(TaskSchema, init) as Task };
}

const sh = (script: string) => ({ image: "ubuntu:24.04", command: ["/bin/sh", "-c", script] });

async function submitted(target: ComputeBackend, one: Attempt): Promise<string> {
  const [outcome] = await target.submit([one]);
  assert.equal(outcome?.kind, "submitted", JSON.stringify(outcome));
  return (outcome as { handle: string }).handle;
}

async function until(target: ComputeBackend, handle: string, done: (status: AttemptStatus) => boolean, timeoutInMs = 10_000) {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const [status] = await target.poll([handle]);
    if (status !== undefined && done(status)) return status;
    assert.ok(Date.now() < deadline, `timed out; last status ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const ended = (status: AttemptStatus) => status.phase === "ended";

describe("LocalBackend", () => {
  test("runs an attempt to its result: the handle is its work directory on this host", async () => {
    const local = backend();
    await writeFile(path.join(await ensureFiles(), "in.txt"), "local input\n");
    const handle = await submitted(
      local,
      attempt({
        inputs: [{ path: "/data/in.txt", url: pathToFileURL(path.join(scratch, "files", "in.txt")).href }],
        outputs: [{ path: "/data/out.txt", url: pathToFileURL(path.join(scratch, "files", "out.txt")).href }],
        executors: [sh("tr a-z A-Z < /data/in.txt > /data/out.txt")],
      }),
    );
    assert.ok(handle.startsWith(path.join(scratch, "work")));
    const status = await until(local, handle, ended);
    assert.equal(status.phase === "ended" && status.result.outcome, "complete");
    assert.equal(await readFile(path.join(scratch, "files", "out.txt"), "utf8"), "LOCAL INPUT\n");
    assert.deepEqual(status.phase === "ended" && status.result.outputs.map((output) => output.sizeBytes), [12n]);
  });

  test("a second submit of the same attemptId answers the same handle and does not run it again", async () => {
    const local = backend();
    const counter = path.join(await ensureFiles(), `runs-${ids}.txt`);
    const one = attempt({
      outputs: [{ path: "/o/count", url: pathToFileURL(counter).href }],
      executors: [sh("sleep 0.3; echo ran >> /o/count")],
    });
    const [first, second] = await Promise.all([local.submit([one]), local.submit([one])]);
    const other = backend();
    const [third] = await other.submit([one]);
    assert.deepEqual(first, second);
    assert.deepEqual(first?.[0], third);
    const handle = (first?.[0] as { handle: string }).handle;
    await until(local, handle, ended);
    assert.equal(await readFile(counter, "utf8"), "ran\n");
  });

  test("polls many handles at once, in order, and says unknown for a handle that is not its own", async () => {
    const local = backend();
    const handles = [
      await submitted(local, attempt({ executors: [sh("exit 0")] })),
      await submitted(local, attempt({ executors: [sh("exit 4")] })),
    ];
    await until(local, handles[1] as string, ended);
    await until(local, handles[0] as string, ended);
    const statuses = await local.poll([...handles, "/etc", path.join(scratch, "work", "never-submitted")]);
    assert.deepEqual(
      statuses.map((status) => (status.phase === "ended" ? status.result.outcome : status.phase)),
      ["complete", "executor_error", "unknown", "unknown"],
    );
  });

  test("reports running with the executors ended so far", async () => {
    const local = backend();
    const handle = await submitted(local, attempt({ executors: [sh("echo first"), sh("sleep 5")] }));
    const status = await until(local, handle, (s) => s.phase === "running" && (s.executorLogs?.length ?? 0) === 1);
    assert.equal(status.phase === "running" && status.executorLogs?.[0]?.stdout, "first\n");
    await local.cancel([handle]);
  });

  test("cancel stops the running executor and its whole process tree within two seconds", async () => {
    const local = backend();
    const marker = `${4600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
    const handle = await submitted(local, attempt({ executors: [sh(`(sleep ${marker} &) ; sleep ${marker}`)] }));
    await until(local, handle, (s) => s.phase === "running");
    for (let waited = 0; (await leftoverProcesses(marker)).length < 2; waited += 25) {
      assert.ok(waited < 5000, "the executor's processes did not start");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const started = Date.now();
    await local.cancel([handle]);
    assert.ok(Date.now() - started < 2000, `cancel took ${Date.now() - started} ms`);
    assert.deepEqual(await leftoverProcesses(marker), []);
    const status = await until(local, handle, ended);
    assert.equal(status.phase === "ended" && status.result.outcome, "canceled");
    await local.cancel([handle]); // Already ended: left as it is.
    const [again] = await local.poll([handle]);
    assert.equal(again?.phase === "ended" && again.result.outcome, "canceled");
  });

  test("another worker process on the host can cancel an attempt this one runs", async () => {
    const owner = backend();
    const other = backend();
    const handle = await submitted(owner, attempt({ executors: [sh("sleep 30")] }));
    await until(other, handle, (s) => s.phase === "running");
    const started = Date.now();
    await other.cancel([handle]);
    const status = await until(other, handle, ended);
    assert.ok(Date.now() - started < 2000, `cancel took ${Date.now() - started} ms`);
    assert.equal(status.phase === "ended" && status.result.outcome, "canceled");
  });

  test("release deletes the work directory", async () => {
    const local = backend();
    const handle = await submitted(local, attempt({ executors: [sh("echo hi > /tmp/x")] }));
    await until(local, handle, ended);
    assert.ok(existsSync(handle));
    await local.release([handle]);
    assert.equal(existsSync(handle), false);
    const [status] = await local.poll([handle]);
    assert.equal(status?.phase, "unknown");
  });

  test("attempts that do not fit the host's free capacity wait, reported as queued", async () => {
    const local = backend({ cpuCores: 2, ramGb: 4 });
    const big = await submitted(local, attempt({ resources: { cpuCores: 2 }, executors: [sh("sleep 0.6")] }));
    const waiting = await submitted(local, attempt({ resources: { cpuCores: 1 }, executors: [sh("true")] }));
    await until(local, big, (s) => s.phase === "running");
    const [queued] = await local.poll([waiting]);
    assert.equal(queued?.phase, "queued");
    assert.match(queued?.phase === "queued" ? queued.reason ?? "" : "", /waiting for 1 CPU cores/);
    const done = await until(local, waiting, ended);
    assert.equal(done.phase === "ended" && done.result.outcome, "complete");
  });

  test("a task that can never fit the host, or names a file outside TES_ALLOWED_DIRS, is rejected", async () => {
    const local = backend({ cpuCores: 2, ramGb: 4 });
    const outcomes = await local.submit([
      attempt({ resources: { cpuCores: 3 }, executors: [sh("true")] }),
      attempt({ resources: { ramGb: 8 }, executors: [sh("true")] }),
      attempt({ inputs: [{ path: "/in", url: "file:///etc/passwd" }], executors: [sh("true")] }),
    ]);
    assert.deepEqual(outcomes.map((outcome) => outcome.kind), ["rejected", "rejected", "rejected"]);
    assert.match(JSON.stringify(outcomes[0]), /3 CPU cores; this host offers 2/);
    assert.match(JSON.stringify(outcomes[1]), /8 GB of RAM; this host offers 4 GB/);
    assert.match(JSON.stringify(outcomes[2]), /inputs\[0\]\.url: the local path \/etc\/passwd is outside/);
  });

  test("an attempt left queued by a worker process that died is adopted and run by the next one to poll it", async () => {
    const local = backend();
    const orphan = attempt({ executors: [sh("echo adopted")] });
    const handle = path.join(config().workDir, orphan.attemptId);
    await new AttemptDirectory(handle).create(
      {
        attemptId: orphan.attemptId,
        taskId: orphan.taskId,
        attempt: 0,
        task: { executors: [{ image: "ubuntu", command: ["/bin/sh", "-c", "echo adopted"] }] },
        cpuCores: 1,
        ramGb: 0.5,
        submittedAt: new Date().toISOString(),
      },
      { phase: "queued", owner: await deadProcess() },
    );
    const status = await until(local, handle, ended);
    assert.equal(status.phase === "ended" && status.result.executors[0]?.stdout, "adopted\n");
  });

  test("an attempt that was running in a worker process that died is reported preempted", async () => {
    const local = backend();
    const orphan = attempt({ executors: [sh("true")] });
    const handle = path.join(config().workDir, orphan.attemptId);
    const directory = new AttemptDirectory(handle);
    await directory.create(
      { attemptId: orphan.attemptId, taskId: orphan.taskId, attempt: 0, task: {}, cpuCores: 1, ramGb: 0.5, submittedAt: "" },
      { phase: "running", owner: await deadProcess(), executors: [] },
    );
    const [status] = await local.poll([handle]);
    assert.equal(status?.phase, "preempted");
    assert.match(status?.phase === "preempted" ? status.reason : "", /worker process \(pid \d+\) .* stopped/);
  });

  test("after a worker process is killed with SIGKILL, the next one to poll reports its attempt preempted, with no process left", async () => {
    const marker = `${7600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
    const one = attempt({ executors: [sh(`(sleep ${marker} &); sleep ${marker}`)] });
    const script = `
      import { create } from "@bufbuild/protobuf";
      import { TaskSchema } from ${JSON.stringify(new URL("../../../src/gen/ga4gh/tes/v1/tes_pb.ts", import.meta.url).pathname)};
      import { LocalBackend } from ${JSON.stringify(new URL("./local-backend.ts", import.meta.url).pathname)};
      const backend = new LocalBackend(${JSON.stringify(config())});
      const [outcome] = await backend.submit([{ ...${JSON.stringify({ ...one, task: undefined })},
        task: create(TaskSchema, ${JSON.stringify({ executors: [sh(`(sleep ${marker} &); sleep ${marker}`)] })}) }]);
      console.log(outcome.handle);
      setInterval(() => {}, 1000);
    `;
    const worker = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: new URL("../../../", import.meta.url).pathname,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const handle = await new Promise<string>((resolve) => worker.stdout?.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())));
    for (let waited = 0; (await leftoverProcesses(marker)).length < 2; waited += 25) {
      assert.ok(waited < 10_000, "the executor's processes did not start");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    worker.kill("SIGKILL");
    await new Promise((resolve) => worker.once("exit", resolve));
    const next = backend();
    const [status] = await next.poll([handle]);
    assert.equal(status?.phase, "preempted");
    for (let waited = 0; (await leftoverProcesses(marker)).length > 0; waited += 25) {
      assert.ok(waited < 2000, `processes left behind: ${(await leftoverProcesses(marker)).join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await next.release([handle]);
    assert.equal(existsSync(handle), false);
  });

  test("close hands queued attempts back and marks running ones interrupted, for another process to pick up", async () => {
    const closing = new LocalBackend(config({ cpuCores: 1 }), { cancelCheckIntervalInMs: 50 });
    const running = await submitted(closing, attempt({ resources: { cpuCores: 1 }, executors: [sh("sleep 30")] }));
    const queued = await submitted(closing, attempt({ resources: { cpuCores: 1 }, executors: [sh("echo later")] }));
    await until(closing, running, (s) => s.phase === "running");
    await closing.close();
    const next = backend();
    const [interrupted] = await next.poll([running]);
    assert.equal(interrupted?.phase, "preempted");
    const later = await until(next, queued, ended);
    assert.equal(later.phase === "ended" && later.result.executors[0]?.stdout, "later\n");
  });
});

async function ensureFiles(): Promise<string> {
  const dir = path.join(scratch, "files");
  await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
  return dir;
}

/** The identity of a process that has exited. */
async function deadProcess() {
  const child = spawn("sleep", ["10"]);
  const identity = identityOf(child.pid as number);
  assert.ok(identity);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  return identity;
}
