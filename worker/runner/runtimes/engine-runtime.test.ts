import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { EngineRuntime } from "./engine-runtime.js";

// No container engine runs on the CI machines, so this checks the command line handed to the
// docker/podman client: a stand-in client prints the arguments and environment it was given.
let scratch: string;
let client: string;
before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "tes-engine-"));
  client = path.join(scratch, "docker");
  await writeFile(client, '#!/bin/sh\nprintf "%s\\n" "$@"; echo "TOKEN=$TOKEN"\n');
  await chmod(client, 0o755);
});
after(() => rm(scratch, { recursive: true, force: true }));

test("docker run gets the mounts, workdir, limits, the command as argv and the env by name only", async () => {
  const runtime = new EngineRuntime("docker", client);
  const started = await runtime.start({
    name: "tes-task-1-0-0",
    image: "ubuntu:24.04",
    command: ["/bin/sh", "-c", "echo hi"],
    workdir: "/data",
    env: { TOKEN: "s3cr3t" },
    mounts: [
      { containerPath: "/data", hostPath: "/w/root/data", kind: "directory" },
      { containerPath: "/in/a,b.txt", hostPath: "/w/root/in/a,b.txt", kind: "file" },
    ],
    root: "/w/root",
    stdin: false,
    cpuCores: 2,
    ramBytes: 1073741824,
  });
  let out = "";
  started.process.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => started.process.once("close", resolve));
  assert.deepEqual(out.trim().split("\n"), [
    "run", "--rm", "--init", "--name", "tes-task-1-0-0", "--workdir", "/data", "--cpus", "2", "--memory", "1073741824",
    "--mount", "type=bind,source=/w/root/data,target=/data",
    "--mount", 'type=bind,"source=/w/root/in/a,b.txt","target=/in/a,b.txt"',
    "--env", "TOKEN", "--entrypoint", "/bin/sh", "--", "ubuntu:24.04", "-c", "echo hi",
    "TOKEN=s3cr3t",
  ]);
  assert.deepEqual(runtime.notes(), []);
});

test("the client gets the runner's own DOCKER_CONFIG (registry credentials), over the worker's", async () => {
  const printer = path.join(scratch, "docker-env");
  await writeFile(printer, '#!/bin/sh\necho "DOCKER_CONFIG=$DOCKER_CONFIG"\n');
  await chmod(printer, 0o755);
  const runtime = new EngineRuntime("docker", printer, { DOCKER_CONFIG: "/tmp/tes-docker-config-x" });
  const started = await runtime.start({ name: "tes-t-0", image: "alpine:3", command: ["true"], workdir: "", env: {}, mounts: [], root: "/w/root", stdin: false, cpuCores: undefined, ramBytes: undefined });
  let out = "";
  started.process.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => started.process.once("close", resolve));
  assert.equal(out.trim(), "DOCKER_CONFIG=/tmp/tes-docker-config-x");
});
