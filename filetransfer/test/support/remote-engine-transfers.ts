import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runTransfers, type Manifest, type TransferDirection, type TransferReport } from "../../src/index.js";
import { child, type RemoteFixture } from "./remote-provider-contract.js";

/** A test body given a fresh task root (the host directory that stands for the container's /), removed afterwards. */
async function inTaskRoot(body: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "ft-engine-"));
  try {
    await body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** runTransfers with the fixture's settings, retrying once and soon: the test servers are local. */
function transfer(f: RemoteFixture, manifest: Manifest, direction: TransferDirection): Promise<TransferReport> {
  return runTransfers(manifest, direction, { env: f.env, retries: 1, retryBaseDelayInMs: 10 });
}

/**
 * A remote store through the whole engine (runTransfers, as the CLI and the worker call it): a
 * FILE and a DIRECTORY input downloaded into a task's root, and wildcard and DIRECTORY outputs
 * uploaded, each file reported with its size.
 */
export function describeEngineTransfers(name: string, fixture: () => RemoteFixture): void {
  describe(`${name} through runTransfers`, () => {
    it("downloads a FILE input and a DIRECTORY input into the task's root", () =>
      inTaskRoot(async (root) => {
        const f = fixture();
        const dir = f.newDirectoryUrl();
        const single = randomBytes(5000);
        await f.seed(child(dir, "single.bin"), single);
        const tree: Record<string, Buffer> = { "a.txt": Buffer.from("a"), "b/c.txt": Buffer.from("see") };
        for (const [path, data] of Object.entries(tree)) await f.seed(child(dir, `tree/${path}`), data);
        const report = await transfer(
          f,
          {
            root,
            inputs: [
              { url: child(dir, "single.bin").href, path: "/inputs/single.bin", type: "FILE" },
              { url: child(dir, "tree").href, path: "/inputs/tree", type: "DIRECTORY" },
            ],
          },
          "download",
        );
        assert.equal(report.ok, true, JSON.stringify(report));
        assert.deepEqual(readFileSync(join(root, "inputs/single.bin")), single);
        for (const [path, data] of Object.entries(tree)) assert.deepEqual(readFileSync(join(root, "inputs/tree", path)), data);
        assert.deepEqual(report.files.map((file) => file.size_bytes).sort(), ["1", "3", "5000"]);
      }));

    it("uploads wildcard outputs without their path_prefix, and a DIRECTORY output, one report entry per file", () =>
      inTaskRoot(async (root) => {
        const f = fixture();
        mkdirSync(join(root, "outputs/tree/sub"), { recursive: true });
        const files: Record<string, Buffer> = {
          "outputs/s1.vcf": randomBytes(100),
          "outputs/s2.vcf": randomBytes(200),
          "outputs/notes.txt": Buffer.from("not matched"),
          "outputs/tree/x.txt": Buffer.from("x"),
          "outputs/tree/sub/y.txt": Buffer.from("yy"),
        };
        for (const [path, data] of Object.entries(files)) writeFileSync(join(root, path), data);
        const dir = f.newDirectoryUrl();
        const report = await transfer(
          f,
          {
            root,
            outputs: [
              { url: child(dir, "vcf").href, path: "/outputs/*.vcf", path_prefix: "/outputs/" },
              { url: child(dir, "tree").href, path: "/outputs/tree", type: "DIRECTORY" },
            ],
          },
          "upload",
        );
        assert.equal(report.ok, true, JSON.stringify(report));
        assert.deepEqual(await f.fetch(child(dir, "vcf/s1.vcf")), files["outputs/s1.vcf"]);
        assert.deepEqual(await f.fetch(child(dir, "vcf/s2.vcf")), files["outputs/s2.vcf"]);
        assert.equal(await f.fetch(child(dir, "vcf/notes.txt")), undefined, "a file the pattern does not match stays home");
        assert.deepEqual(await f.fetch(child(dir, "tree/x.txt")), files["outputs/tree/x.txt"]);
        assert.deepEqual(await f.fetch(child(dir, "tree/sub/y.txt")), files["outputs/tree/sub/y.txt"]);
        assert.deepEqual(
          report.files.map((file) => [file.path, file.size_bytes]).sort(),
          [
            ["/outputs/s1.vcf", "100"],
            ["/outputs/s2.vcf", "200"],
            ["/outputs/tree/sub/y.txt", "2"],
            ["/outputs/tree/x.txt", "1"],
          ],
        );
      }));

    it("reports a missing input as a failed file naming its URL, and the run as not ok", () =>
      inTaskRoot(async (root) => {
        const f = fixture();
        const url = child(f.newDirectoryUrl(), "missing.txt");
        const report = await transfer(f, { root, inputs: [{ url: url.href, path: "/inputs/missing.txt" }] }, "download");
        assert.equal(report.ok, false);
        const failure = report.files[0]?.error ?? report.errors.join("; ");
        assert.match(failure, /missing\.txt/);
      }));
  });
}
