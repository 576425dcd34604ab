import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseResultDocument } from "./result-document.js";
import { leftoverProcesses } from "../../test/support/leftover-processes.js";

const cli = fileURLToPath(new URL("./cli.ts", import.meta.url));
let scratch: string;

before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "tes-runner-cli-"));
});
after(() => rm(scratch, { recursive: true, force: true }));

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", cli, ...args], { env: { ...process.env, ...env } }, (error, _stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error.code as number), stderr }),
    );
  });
}

test("runs a TES task document and writes the result document, outputs with their sizes", async () => {
  const taskFile = path.join(scratch, "task.json");
  const destination = path.join(scratch, "out");
  await writeFile(
    taskFile,
    JSON.stringify({
      inputs: [{ path: "/in/name.txt", content: "world" }],
      outputs: [{ path: "/out/greeting.txt", url: pathToFileURL(path.join(destination, "greeting.txt")).href, type: "FILE" }],
      executors: [{ image: "alpine", command: ["/bin/sh", "-c", 'echo "hello $(cat /in/name.txt)" > /out/greeting.txt'] }],
    }),
  );
  const resultFile = path.join(scratch, "result.json");
  const progressFile = path.join(scratch, "progress.json");
  const { code, stderr } = await runCli(
    ["run", "--task", taskFile, "--workdir", path.join(scratch, "wd"), "--runtime", "bwrap", "--result", resultFile, "--progress", progressFile],
    { TES_ALLOWED_DIRS: scratch },
  );
  assert.equal(code, 0, stderr);
  const result = parseResultDocument(await readFile(resultFile, "utf8"));
  assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
  assert.deepEqual(result.outputs, [
    { url: pathToFileURL(path.join(destination, "greeting.txt")).href, path: "/out/greeting.txt", sizeBytes: 12n },
  ]);
  assert.equal(await readFile(path.join(destination, "greeting.txt"), "utf8"), "hello world\n");
  assert.equal(JSON.parse(await readFile(progressFile, "utf8")).phase, "running");
});

test("a bad command line or task document exits 2 with a message, and runs nothing", async () => {
  const missing = await runCli(["run", "--task", "x.json"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--task, --workdir and --result are required/);
  const badRuntime = await runCli(["run", "--task", "t", "--workdir", "w", "--result", "r", "--runtime", "lxc"]);
  assert.equal(badRuntime.code, 2);
  assert.match(badRuntime.stderr, /--runtime must be one of docker, podman, bwrap, got "lxc"/);
  const taskFile = path.join(scratch, "bad-task.json");
  await writeFile(taskFile, JSON.stringify({ executors: [{ image: "alpine", command: ["true"], colour: "red" }] }));
  const badTask = await runCli(["run", "--task", taskFile, "--workdir", path.join(scratch, "w2"), "--result", path.join(scratch, "r2.json")]);
  assert.equal(badTask.code, 2);
  assert.match(badTask.stderr, /colour/);
});

test("SIGTERM cancels: the executors stop and the result says canceled", async () => {
  const marker = `${5600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
  const taskFile = path.join(scratch, "long-task.json");
  await writeFile(taskFile, JSON.stringify({ executors: [{ image: "alpine", command: ["sleep", marker] }] }));
  const resultFile = path.join(scratch, "long-result.json");
  const child = spawn(process.execPath, [
    "--import", "tsx", cli, "run", "--task", taskFile, "--workdir", path.join(scratch, "long"), "--runtime", "bwrap", "--result", resultFile,
  ]);
  for (let waited = 0; (await leftoverProcesses(`sleep ${marker}`)).length === 0; waited += 50) {
    assert.ok(waited < 10_000, "the executor did not start");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGTERM");
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  assert.equal(code, 0);
  assert.equal(parseResultDocument(await readFile(resultFile, "utf8")).outcome, "canceled");
  assert.deepEqual(await leftoverProcesses(`sleep ${marker}`), []);
});

test("--registry-logins: the document is read, then deleted from the task directory; a bad one exits 2 without echoing a password", async () => {
  const taskFile = path.join(scratch, "login-task.json");
  await writeFile(taskFile, JSON.stringify({ executors: [{ image: "registry.example.com/tool:1", command: ["true"] }] }));
  const logins = path.join(scratch, "registry-logins.json");
  await writeFile(logins, JSON.stringify({ version: 1, registries: [{ server: "registry.example.com", username: "robot", password: "Pa55-SECRET" }] }));
  const resultFile = path.join(scratch, "login-result.json");
  // TES_REGISTRY_LOGINS is how the Azure Batch backend names it (an environment setting of the Batch
  // task). bwrap ignores images, so nothing is signed in to here; the document still goes.
  const { code, stderr } = await runCli(["run", "--task", taskFile, "--workdir", path.join(scratch, "login-wd"), "--runtime", "bwrap", "--result", resultFile], { TES_REGISTRY_LOGINS: logins });
  assert.equal(code, 0, stderr);
  assert.equal(parseResultDocument(await readFile(resultFile, "utf8")).outcome, "complete");
  await assert.rejects(readFile(logins), { code: "ENOENT" });

  await writeFile(logins, JSON.stringify({ version: 1, registries: [{ server: "registry.example.com", password: "Pa55-SECRET" }] }));
  const bad = await runCli(["run", "--task", taskFile, "--workdir", path.join(scratch, "login-wd2"), "--result", path.join(scratch, "r3.json"), "--registry-logins", logins]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /registries\[0\]\.username must be a non-empty string/);
  assert.ok(!bad.stderr.includes("Pa55-SECRET"));
  await assert.rejects(readFile(logins), { code: "ENOENT" });
});

test("with docker, the client the runner starts finds the credentials in its DOCKER_CONFIG, removed after the attempt", async () => {
  // A stand-in docker client (no engine runs here): answers `info`, and for `run` reports what its config holds.
  const bin = path.join(scratch, "bin");
  await mkdir(bin, { recursive: true });
  await writeFile(
    path.join(bin, "docker"),
    `#!/bin/sh
case "$1" in
  info|rm) exit 0;;
  run) echo "config=$DOCKER_CONFIG"; grep -o '"registry.example.com":{"auth":"[^"]*"}' "$DOCKER_CONFIG/config.json";;
esac
`,
  );
  await chmod(path.join(bin, "docker"), 0o755);
  const taskFile = path.join(scratch, "docker-login-task.json");
  await writeFile(taskFile, JSON.stringify({ executors: [{ image: "registry.example.com/tool:1", command: ["true"] }] }));
  const logins = path.join(scratch, "docker-registry-logins.json");
  await writeFile(logins, JSON.stringify({ version: 1, registries: [{ server: "registry.example.com", username: "robot", password: "Pa55-SECRET" }] }));
  const resultFile = path.join(scratch, "docker-login-result.json");
  const { code, stderr } = await runCli(
    ["run", "--task", taskFile, "--workdir", path.join(scratch, "docker-login-wd"), "--runtime", "docker", "--result", resultFile, "--registry-logins", logins],
    { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
  );
  assert.equal(code, 0, stderr);
  const result = parseResultDocument(await readFile(resultFile, "utf8"));
  assert.equal(result.outcome, "complete", result.systemLogs.join("\n"));
  const stdout = result.executors[0]?.stdout ?? "";
  assert.ok(stdout.includes(`"registry.example.com":{"auth":"${Buffer.from("robot:Pa55-SECRET").toString("base64")}"}`), stdout);
  const configDir = /config=(\S+)/.exec(stdout)?.[1] ?? "";
  assert.match(configDir, /tes-docker-config-/);
  await assert.rejects(readFile(path.join(configDir, "config.json")), { code: "ENOENT" });
});
