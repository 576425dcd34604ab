import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { leftoverProcesses } from "../../test/support/leftover-processes.js";
import { runExecutor } from "./executor-process.js";
import type { ContainerRuntime } from "./runtimes/container-runtime.js";
import { detectRuntime } from "./runtimes/detect-runtime.js";

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "tes-executor-process-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test("a cancel that arrives while the container is being started still stops the executor at once", async () => {
  const bwrap = await detectRuntime("bwrap", { network: false, hiddenPaths: [] });
  const abort = new AbortController();
  // The real runtime, with the cancel landing between the start request and its answer (as a
  // CancelTask does when it comes just as the sandbox is set up).
  const runtime: ContainerRuntime = {
    name: bwrap.name,
    notes: (images) => bwrap.notes(images),
    prepareRoot: (hostPath) => bwrap.prepareRoot(hostPath),
    ensureImages: (images, signal) => bwrap.ensureImages(images, signal),
    start: async (spec) => {
      const started = await bwrap.start(spec);
      abort.abort();
      return started;
    },
  };
  // A sleep that outlives the test's bound but not the test run, unique enough to find in /proc.
  const marker = `9.${process.pid}${Math.floor(Math.random() * 1000)}`;
  const startedAt = Date.now();
  const outcome = await runExecutor(
    runtime,
    {
      name: "cancel-during-start",
      image: "alpine",
      command: ["sleep", marker],
      workdir: "",
      env: {},
      mounts: [],
      root,
      stdin: false,
      cpuCores: undefined,
      ramBytes: undefined,
    },
    { root, tailBytes: 1024 },
    abort.signal,
  );
  assert.equal(outcome.canceled, true);
  assert.ok(Date.now() - startedAt < 5000, `the executor ran ${Date.now() - startedAt} ms after its cancel`);
  assert.deepEqual(await leftoverProcesses(marker), []);
});
