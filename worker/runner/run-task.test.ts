import assert from "node:assert/strict";
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { FileType, TaskSchema, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { runTask, type RunnerProgress } from "./run-task.js";
import { detectRuntime } from "./runtimes/detect-runtime.js";
import { leftoverProcesses } from "../../test/support/leftover-processes.js";

type TaskInit = Parameters<typeof create<typeof TaskSchema>>[1];

let scratch: string;
let server: http.Server;
let serverUrl: string;
let helloRequests = 0;

before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "tes-runner-"));
  server = http.createServer((req, res) => {
    if (req.url === "/hello.txt") {
      helloRequests += 1;
      res.writeHead(200, { "content-type": "text/plain" }).end("hello over http\n");
    } else {
      res.writeHead(404).end("not here");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(scratch, { recursive: true, force: true });
});

let runs = 0;
async function run(init: TaskInit, extra: { signal?: AbortSignal; tailBytes?: number; progress?: RunnerProgress[] } = {}) {
  runs += 1;
  const workDir = path.join(scratch, `attempt-${runs}`);
  const result = await runTask(create(TaskSchema, init) as Task, {
    workDir,
    attemptId: `runner-test-${runs}`,
    runtime: () => detectRuntime("bwrap", { network: false, hiddenPaths: [] }),
    tailBytes: extra.tailBytes ?? 4096,
    transfers: { allowedDirs: [scratch], retries: 0 },
    ...(extra.signal === undefined ? {} : { signal: extra.signal }),
    onProgress: (progress) => extra.progress?.push(progress),
  });
  return { result, workDir, root: path.join(workDir, "root") };
}

const sh = (script: string) => ({ image: "ubuntu:24.04", command: ["/bin/sh", "-c", script] });

describe("the runner, with the bwrap runtime", () => {
  test("a content input is at its container path, and stdout is captured in the log", async () => {
    const { result } = await run({
      inputs: [{ path: "/data/in/greeting.txt", content: "hello from content\n" }],
      executors: [sh("cat /data/in/greeting.txt")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors.length, 1);
    assert.equal(result.executors[0]?.exitCode, 0);
    assert.equal(result.executors[0]?.stdout, "hello from content\n");
    assert.ok(result.startTime && result.endTime && result.executors[0]?.startTime && result.executors[0]?.endTime);
    assert.match(result.systemLogs.join("\n"), /image ubuntu:24\.04 is ignored/);
  });

  test("an http input from a local server and a file:// input are downloaded", async () => {
    const local = path.join(scratch, "local-input.txt");
    await writeFile(local, "hello from a local file\n");
    const { result } = await run({
      inputs: [
        { path: "/inputs/http.txt", url: `${serverUrl}/hello.txt` },
        { path: "/inputs/file.txt", url: pathToFileURL(local).href },
      ],
      executors: [sh("cat /inputs/http.txt /inputs/file.txt")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors[0]?.stdout, "hello over http\nhello from a local file\n");
  });

  test("an input repeated at its path (as Cromwell and Snakemake send a file used twice) is downloaded once", async () => {
    const before = helloRequests;
    const repeated = { path: "/inputs/hello.txt", url: `${serverUrl}/hello.txt` };
    const { result } = await run({
      inputs: [repeated, { path: "/inputs//hello.txt", url: repeated.url }, { path: "/inputs/c.txt", content: "c" }, { path: "/inputs/c.txt", content: "c" }],
      executors: [sh("cat /inputs/hello.txt /inputs/c.txt")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors[0]?.stdout, "hello over http\nc");
    assert.equal(helloRequests - before, 1, "one download for the two inputs");
    assert.equal(result.inputBytes, BigInt("hello over http\n".length + 1));
  });

  test("inputBytes counts the bytes of every input downloaded, a content input and a file:// input", async () => {
    const local = path.join(scratch, "counted-input.bin");
    const fileBytes = "x".repeat(70_001);
    const content = "twelve bytes";
    await writeFile(local, fileBytes);
    const { result } = await run({
      inputs: [
        { path: "/inputs/content.txt", content },
        { path: "/inputs/file.bin", url: pathToFileURL(local).href },
      ],
      executors: [sh("wc -c < /inputs/file.bin")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors[0]?.stdout?.trim(), "70001");
    assert.equal(result.inputBytes, BigInt(Buffer.byteLength(content) + fileBytes.length));
  });

  test("a DIRECTORY input arrives whole, nested files included", async () => {
    const source = path.join(scratch, "input-dir");
    await mkdir(path.join(source, "sub"), { recursive: true });
    await writeFile(path.join(source, "a.txt"), "A");
    await writeFile(path.join(source, "sub", "b.txt"), "B");
    const { result } = await run({
      inputs: [{ path: "/ref/genome", url: pathToFileURL(source).href, type: FileType.DIRECTORY }],
      executors: [sh("cd /ref/genome && find . -type f | sort && cat a.txt sub/b.txt")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors[0]?.stdout, "./a.txt\n./sub/b.txt\nAB");
  });

  test("an output without a type that turns out to be a directory is uploaded whole", async () => {
    const destination = path.join(scratch, "untyped-output");
    const { result } = await run({
      outputs: [{ path: "/out/dir", url: pathToFileURL(destination).href }],
      executors: [sh("mkdir -p /out/dir/sub && printf X > /out/dir/sub/y.txt")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(await readFile(path.join(destination, "sub/y.txt"), "utf8"), "X");
    assert.deepEqual(result.outputs.map((output) => output.path), ["/out/dir/sub/y.txt"]);
  });

  test("two executors share a volume; env, workdir and stdout redirection apply", async () => {
    const { result, root } = await run({
      volumes: ["/shared"],
      executors: [
        { ...sh('echo "$GREETING from $(pwd)" > /shared/note.txt'), env: { GREETING: "hi" }, workdir: "/shared" },
        { ...sh("cat /shared/note.txt; echo to-stderr >&2"), stdout: "/logs/second.out", stderr: "/logs/second.err" },
        sh("echo appended >> /logs/second.err"),
      ],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors.length, 3);
    assert.equal(await readFile(path.join(root, "logs/second.out"), "utf8"), "hi from /shared\n");
    assert.equal(await readFile(path.join(root, "logs/second.err"), "utf8"), "to-stderr\nappended\n");
    assert.equal(result.executors[1]?.stdout, "hi from /shared\n");
    assert.equal(result.executors[1]?.stderr, "to-stderr\n");
  });

  test("the task's environment stays out of the host's process listings", async () => {
    const secret = `secret-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const abort = new AbortController();
    const marker = `${6600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
    const running = run({ executors: [{ ...sh(`echo $TOKEN; sleep ${marker}`), env: { TOKEN: secret } }] }, { signal: abort.signal });
    const deadline = Date.now() + 5000;
    while ((await leftoverProcesses(`sleep ${marker}`)).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.deepEqual(await leftoverProcesses(secret), []);
    abort.abort();
    const { result } = await running;
    assert.equal(result.executors[0]?.stdout, `${secret}\n`);
  });

  test("stdin and stdout never follow a symlink an executor planted to a host file", async () => {
    const sentinel = path.join(scratch, "host-sentinel.txt");
    await writeFile(sentinel, "host secret\n");
    const { result } = await run({
      volumes: ["/logs"],
      executors: [
        sh(`ln -s ${sentinel} /logs/out.txt && ln -s ${sentinel} /logs/in.txt`),
        { ...sh("echo overwritten"), stdout: "/logs/out.txt" },
      ],
    });
    assert.equal(result.outcome, "executor_error");
    assert.match(result.executors[1]?.stderr ?? "", /symlink/);
    const reading = await run({
      volumes: ["/logs"],
      executors: [sh(`ln -s ${sentinel} /logs/in.txt`), { ...sh("cat"), stdin: "/logs/in.txt" }],
    });
    assert.equal(reading.result.outcome, "executor_error");
    assert.doesNotMatch(reading.result.executors[1]?.stdout ?? "", /host secret/);
    assert.equal(await readFile(sentinel, "utf8"), "host secret\n");
  });

  test("stdin is fed from its file", async () => {
    const { result } = await run({
      inputs: [{ path: "/in/words.txt", content: "b\na\nc\n" }],
      executors: [{ ...sh("sort"), stdin: "/in/words.txt" }],
    });
    assert.equal(result.executors[0]?.stdout, "a\nb\nc\n");
  });

  test("a DIRECTORY output is flattened and a wildcard output keeps what follows path_prefix", async () => {
    const destination = path.join(scratch, "outputs-1");
    const { result } = await run({
      outputs: [
        { path: "/out/tree", url: pathToFileURL(path.join(destination, "tree")).href, type: FileType.DIRECTORY },
        { path: "/out/reports/*.txt", pathPrefix: "/out/reports/", url: pathToFileURL(path.join(destination, "reports")).href },
      ],
      executors: [
        sh("mkdir -p /out/tree/sub /out/reports && printf 12345 > /out/tree/one && printf 1 > /out/tree/sub/two && " +
          "printf abc > /out/reports/r1.txt && printf abcd > /out/reports/r2.txt && printf x > /out/reports/skip.log"),
      ],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    const logged = result.outputs.map((output) => [output.path, output.url, output.sizeBytes]).sort();
    assert.deepEqual(logged, [
      ["/out/reports/r1.txt", pathToFileURL(path.join(destination, "reports/r1.txt")).href, 3n],
      ["/out/reports/r2.txt", pathToFileURL(path.join(destination, "reports/r2.txt")).href, 4n],
      ["/out/tree/one", pathToFileURL(path.join(destination, "tree/one")).href, 5n],
      ["/out/tree/sub/two", pathToFileURL(path.join(destination, "tree/sub/two")).href, 1n],
    ]);
    assert.equal(await readFile(path.join(destination, "tree/sub/two"), "utf8"), "1");
    assert.deepEqual((await readdir(path.join(destination, "reports"))).sort(), ["r1.txt", "r2.txt"]);
  });

  test("workflow engines' container paths exist inside the sandbox and nowhere on the host", async () => {
    const { result } = await run({
      inputs: [
        { path: "/work/ab/cdef/.command.run", content: "echo nextflow" },
        { path: "/cromwell-executions/wf/call/execution/script", content: "echo cromwell" },
        { path: "/tmp/run_snakemake.sh", content: "echo snakemake" },
      ],
      executors: [sh("sh /work/ab/cdef/.command.run && sh /cromwell-executions/wf/call/execution/script && sh /tmp/run_snakemake.sh")],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.equal(result.executors[0]?.stdout, "nextflow\ncromwell\nsnakemake\n");
    assert.equal(existsSync("/work/ab/cdef/.command.run"), false);
    assert.equal(existsSync("/cromwell-executions"), false);
    assert.equal(existsSync("/tmp/run_snakemake.sh"), false);
  });

  test("the host's userland is read-only, /tmp is private and there is no network", async () => {
    const { result } = await run({
      executors: [
        sh("touch /usr/x 2>/dev/null && echo usr-writable; touch /tmp/x && echo tmp-ok; ls /tmp; " +
          "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; echo pid=$$"),
      ],
    });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    const out = result.executors[0]?.stdout ?? "";
    assert.doesNotMatch(out, /usr-writable/);
    assert.match(out, /tmp-ok\nx\n/);
    assert.match(out, /^lo$/m);
    assert.doesNotMatch(out, /^eth/m);
    assert.match(out, /pid=\d\n$/, "the executor runs in its own PID namespace");
  });

  test("executors run as an unprivileged user: root's files stay closed to them", async () => {
    const { result } = await run({ executors: [sh("id -u; cat /etc/shadow > /dev/null 2>&1 && echo shadow-readable; true")] });
    assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
    assert.notEqual(result.executors[0]?.stdout?.split("\n")[0], "0");
    assert.doesNotMatch(result.executors[0]?.stdout ?? "", /shadow-readable/);
  });

  test("a failing executor ends the task with its exit code and the next one does not run", async () => {
    const { result } = await run({ executors: [sh("echo failing; exit 3"), sh("echo second")] });
    assert.equal(result.outcome, "executor_error");
    assert.equal(result.executors.length, 1);
    assert.equal(result.executors[0]?.exitCode, 3);
    assert.equal(result.executors[0]?.stdout, "failing\n");
  });

  test("a command that cannot start is an executor failure with a non-zero exit code", async () => {
    const { result } = await run({ executors: [{ image: "alpine", command: ["ERROR"] }, sh("echo second")] });
    assert.equal(result.outcome, "executor_error");
    assert.equal(result.executors.length, 1);
    assert.notEqual(result.executors[0]?.exitCode, 0);
  });

  test("ignore_error records the failure and goes on", async () => {
    const { result } = await run({ executors: [{ ...sh("exit 7"), ignoreError: true }, sh("echo second")] });
    assert.equal(result.outcome, "complete");
    assert.deepEqual(result.executors.map((executor) => executor.exitCode), [7, 0]);
    assert.equal(result.executors[1]?.stdout, "second\n");
  });

  test("the stdout and stderr tails are bounded", async () => {
    const { result } = await run({ executors: [sh("seq 1 10000; seq 1 10000 >&2")] }, { tailBytes: 12 });
    assert.equal(result.executors[0]?.stdout, "\n9999\n10000\n".slice(-12));
    assert.equal(Buffer.byteLength(result.executors[0]?.stderr ?? ""), 12);
  });

  test("a task's memory limit stops an executor that needs more, and system_logs say how it was applied", async () => {
    const { result } = await run({
      resources: { ramGb: 0.1, cpuCores: 1 },
      executors: [sh("dd if=/dev/zero of=/dev/null bs=400M count=1 2>/dev/null && echo allocated")],
    });
    assert.equal(result.outcome, "executor_error");
    assert.notEqual(result.executors[0]?.exitCode, 0);
    assert.doesNotMatch(result.executors[0]?.stdout ?? "", /allocated/);
    assert.match(result.systemLogs.join("\n"), /limits: .*(cgroup|RLIMIT_AS)/);
  });

  test("with TES_LOCAL_LIMITS=rlimit, memory is capped per process through RLIMIT_AS", async () => {
    runs += 1;
    const result = await runTask(
      create(TaskSchema, {
        resources: { ramGb: 0.1 },
        executors: [sh("dd if=/dev/zero of=/dev/null bs=400M count=1 2>/dev/null && echo allocated")],
      }) as Task,
      {
        workDir: path.join(scratch, `attempt-${runs}`),
        attemptId: `runner-test-${runs}`,
        runtime: () => detectRuntime("bwrap", { network: false, hiddenPaths: [], limits: "rlimit" }),
        tailBytes: 4096,
      },
    );
    assert.equal(result.outcome, "executor_error");
    assert.doesNotMatch(result.executors[0]?.stdout ?? "", /allocated/);
    assert.match(result.systemLogs.join("\n"), /RLIMIT_AS of 107374183 bytes per process; CPU is not limited/);
  });

  test("a failed download is a system error with a readable reason and no secret", async () => {
    const { result } = await run({
      inputs: [{ path: "/in/missing.txt", url: `${serverUrl}/missing.txt?sig=supersecretsignature123` }],
      executors: [sh("echo should not run")],
    });
    assert.equal(result.outcome, "system_error");
    assert.equal(result.executors.length, 0);
    const logs = result.systemLogs.join("\n");
    assert.match(logs, /\/in\/missing\.txt/);
    assert.match(logs, /404|not found/i);
    assert.doesNotMatch(logs, /supersecretsignature123/);
    assert.equal(result.inputBytes, 0n, "a file that failed to download counts no bytes");
  });

  test("a file:// URL outside the allowed directories is refused", async () => {
    const { result } = await run({
      inputs: [{ path: "/in/passwd", url: "file:///etc/passwd" }],
      executors: [sh("cat /in/passwd")],
    });
    assert.equal(result.outcome, "system_error");
    assert.equal(result.executors.length, 0);
  });

  test("when no container runtime can be had, the task is a system error saying what to install", async () => {
    const result = await runTask(create(TaskSchema, { executors: [sh("true")] }) as Task, {
      workDir: path.join(scratch, "no-runtime"),
      attemptId: "no-runtime",
      runtime: () => detectRuntime("bwrap", { network: false, hiddenPaths: [], command: "/nonexistent/bwrap" }),
      tailBytes: 100,
    });
    assert.equal(result.outcome, "system_error");
    assert.equal(result.executors.length, 0);
    assert.deepEqual(result.systemLogs.length, 1);
    assert.match(result.systemLogs[0] ?? "", /install the Debian\/Ubuntu package `bubblewrap`/);
  });

  test("progress goes from initializing to running, with the executors ended so far", async () => {
    const progress: RunnerProgress[] = [];
    await run({ executors: [sh("true"), sh("true")] }, { progress });
    assert.deepEqual(
      progress.map((step) => (step.phase === "running" ? `running ${step.current} after ${step.executors.length}` : step.phase)),
      ["initializing", "running 0 after 0", "running 1 after 1"],
    );
  });

  test("cancel during a long executor stops it and every process it started, in under two seconds", async () => {
    const marker = `${3600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
    const abort = new AbortController();
    const progress: RunnerProgress[] = [];
    const running = run({ executors: [sh(`sleep ${marker} & sleep ${marker}; echo never`)] }, { signal: abort.signal, progress });
    for (let waited = 0; (await leftoverProcesses(marker)).length < 2; waited += 50) {
      assert.ok(waited < 5000, "the executor's processes did not start");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const canceledAt = Date.now();
    abort.abort();
    const { result } = await running;
    assert.ok(Date.now() - canceledAt < 2000, `cancel took ${Date.now() - canceledAt} ms`);
    assert.equal(result.outcome, "canceled");
    assert.deepEqual(await leftoverProcesses(marker), []);
  });
});
