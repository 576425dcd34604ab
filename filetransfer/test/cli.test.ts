import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { TransferReport } from "../src/index.js";
import { runCli } from "./support/run-cli.js";
import { makeTempDir } from "./support/temp-dir.js";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));

describe("the filetransfer command", () => {
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    work = await makeTempDir("cli");
  });
  after(() => work.remove());

  const cli = (...args: string[]): { status: number | null; stderr: string; stdout: string } =>
    spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], { encoding: "utf8", env: { ...process.env, FILETRANSFER_PARALLEL: "" } });

  it("exits 2 with the usage on bad arguments", () => {
    for (const args of [[], ["sideways", "--manifest", "m", "--report", "r"], ["download", "--report", "r"], ["download", "--manifest", "m"], ["upload", "--manifest", "m", "--report", "r", "--parallel", "0"], ["upload", "--bogus"]]) {
      const run = cli(...args);
      assert.equal(run.status, 2, args.join(" "));
      assert.match(run.stderr, /usage: filetransfer download\|upload/);
    }
    assert.equal(cli("--help").status, 0);
  });

  it("exits 1 with the reason in the report when the manifest cannot be read or is invalid", async () => {
    const report = path.join(work.path, "r1.json");
    const missing = cli("download", "--manifest", path.join(work.path, "nope.json"), "--report", report);
    assert.equal(missing.status, 1);
    const written = JSON.parse(await readFile(report, "utf8")) as TransferReport;
    assert.equal(written.ok, false);
    assert.match(written.errors[0] ?? "", /^manifest: cannot read/);

    const manifest = path.join(work.path, "bad.json");
    await writeFile(manifest, JSON.stringify({ root: work.path, outputs: [{ path: "/out/*.txt", url: "https://h/?sig=VerySecretSignature" }] }));
    const invalid = cli("upload", "--manifest", manifest, "--report", report);
    assert.equal(invalid.status, 1);
    assert.deepEqual((JSON.parse(await readFile(report, "utf8")) as TransferReport).errors, ["manifest: outputs[0].path_prefix: is required when path holds wildcards"]);
    assert.ok(!invalid.stderr.includes("VerySecretSignature"));
  });

  it("names a bad setting from the environment", async () => {
    const run = await runCli("download", { root: work.path, inputs: [] }, work.path, { env: { FILETRANSFER_RETRIES: "many" } });
    assert.equal(run.code, 1);
    assert.deepEqual(run.report?.errors, ['settings: FILETRANSFER_RETRIES: must be an integer >= 0, got "many"']);
  });

  it("succeeds with exit 0 and an empty report when there is nothing to move", async () => {
    const run = await runCli("upload", { root: work.path, outputs: [] }, work.path);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.report, { ok: true, files: [], errors: [] });
  });
});
