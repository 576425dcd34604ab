import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { RuntimeUnavailableError } from "./container-runtime.js";
import { detectRuntime } from "./detect-runtime.js";

const options = { network: false, hiddenPaths: [] };

const engineAnswers = (name: string) =>
  new Promise<boolean>((resolve) => execFile(name, ["info"], { timeout: 10_000 }, (error) => resolve(error === null)));

test("unset, it picks docker or podman when their engine answers, else bwrap", async () => {
  const expected = (await engineAnswers("docker")) ? "docker" : (await engineAnswers("podman")) ? "podman" : "bwrap";
  assert.equal((await detectRuntime(undefined, options)).name, expected);
});

test("a runtime asked for that cannot run is one sentence on what to do", async () => {
  await assert.rejects(detectRuntime("bwrap", { ...options, command: "/nonexistent/bwrap" }), (error: Error) =>
    error instanceof RuntimeUnavailableError && /install the Debian\/Ubuntu package `bubblewrap`/.test(error.message),
  );
});
