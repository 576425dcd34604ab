import assert from "node:assert/strict";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { runTransfers } from "../src/index.js";
import { startHttpTestServer, type HttpTestServer } from "./support/http-test-server.js";
import { makeTempDir } from "./support/temp-dir.js";

/** The task directory's rules: nothing lands outside root, outputs are found as TES says, file:// stays in its lane. */
describe("paths under the task root", () => {
  let server: HttpTestServer;
  let work: { path: string; remove: () => Promise<void> };
  let root: string;
  let outside: string;
  const options = { retryBaseDelayInMs: 1, env: {} };

  before(async () => {
    server = await startHttpTestServer({ objects: { "/x.txt": { data: Buffer.from("x") } } });
    work = await makeTempDir("paths");
    root = path.join(work.path, "root");
    outside = path.join(work.path, "outside");
    await mkdir(root);
    await mkdir(outside);
    await writeFile(path.join(outside, "secret.txt"), "host secret");
  });
  after(async () => {
    await server.close();
    await work.remove();
  });

  it("refuses a .. in any path before moving anything", async () => {
    const report = await runTransfers({ root, inputs: [{ url: `${server.origin}/x.txt`, path: "/data/../../x.txt" }, { url: `${server.origin}/x.txt`, path: "/ok.txt" }] }, "download", options);
    assert.equal(report.ok, false);
    assert.deepEqual(report.errors, ['manifest: inputs[0].path: path "/data/../../x.txt" contains a ".." segment']);
    assert.deepEqual(report.files, []);
    assert.deepEqual(await readdir(root), []);
  });

  it("refuses to write through a symlinked directory that leads out of root", async () => {
    await symlink(outside, path.join(root, "escape"));
    const report = await runTransfers({ root, inputs: [{ url: `${server.origin}/x.txt`, path: "/escape/x.txt" }, { content: "c", path: "/escape/new/c.txt" }] }, "download", options);
    assert.equal(report.ok, false);
    for (const file of report.files) assert.equal(file.error, `path "${file.path}" leads outside the task directory through a symlink`);
    assert.deepEqual((await readdir(outside)).sort(), ["secret.txt"]);
  });

  it("refuses to write onto an existing symlink, wherever it points", async () => {
    await mkdir(path.join(root, "in"), { recursive: true });
    await symlink(path.join(outside, "secret.txt"), path.join(root, "in/link.txt"));
    const report = await runTransfers({ root, inputs: [{ url: `${server.origin}/x.txt`, path: "/in/link.txt" }] }, "download", options);
    assert.equal(report.files[0]?.error, 'path "/in/link.txt" is a symlink; refusing to write through it');
    assert.equal(await readFile(path.join(outside, "secret.txt"), "utf8"), "host secret");
  });

  it("refuses to upload an output that is a symlink out of root, and uploads one that stays inside", async () => {
    await mkdir(path.join(root, "out"), { recursive: true });
    await writeFile(path.join(root, "out/real.txt"), "real");
    await symlink(path.join(root, "out/real.txt"), path.join(root, "out/inside-link.txt"));
    await symlink(path.join(outside, "secret.txt"), path.join(root, "out/outside-link.txt"));
    const report = await runTransfers(
      {
        root,
        outputs: [
          { url: `${server.origin}/up/inside.txt`, path: "/out/inside-link.txt" },
          { url: `${server.origin}/up/outside.txt`, path: "/out/outside-link.txt" },
          { url: `${server.origin}/up/dir`, path: "/out", type: "DIRECTORY" },
        ],
      },
      "upload",
      options,
    );
    assert.equal(report.ok, false);
    assert.equal(server.uploads.get("/up/inside.txt")?.data?.toString(), "real");
    assert.equal(server.uploads.has("/up/outside.txt"), false);
    assert.equal(server.uploads.has("/up/dir/outside-link.txt"), false);
    const failed = report.files.filter((f) => f.error !== undefined).map((f) => [f.path, f.error]);
    assert.deepEqual(failed, [
      ["/out/outside-link.txt", 'path "/out/outside-link.txt" leads outside the task directory through a symlink'],
      ["/out/outside-link.txt", 'path "/out/outside-link.txt" leads outside the task directory through a symlink'],
    ]);
  });

  it("fails a missing FILE or DIRECTORY output; a wildcard that matches nothing is not an error", async () => {
    const report = await runTransfers(
      {
        root,
        outputs: [
          { url: `${server.origin}/up/missing.txt`, path: "/results/missing.txt" },
          { url: `${server.origin}/up/missing-dir`, path: "/results/dir", type: "DIRECTORY" },
          { url: `${server.origin}/up/glob/`, path: "/results/*.bam", path_prefix: "/results/" },
        ],
      },
      "upload",
      options,
    );
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.files.map((f) => [f.path, f.error]),
      [
        ["/results/missing.txt", "the output file does not exist"],
        ["/results/dir", "the output directory does not exist"],
      ],
    );
  });

  it("treats an output of unset type that turns out to be a directory as a DIRECTORY", async () => {
    await mkdir(path.join(root, "untyped/sub"), { recursive: true });
    await writeFile(path.join(root, "untyped/sub/f.txt"), "f");
    const report = await runTransfers({ root, outputs: [{ url: `${server.origin}/up/untyped`, path: "/untyped" }] }, "upload", options);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(report.files.map((f) => [f.path, f.size_bytes]), [["/untyped/sub/f.txt", "1"]]);
    assert.equal(server.uploads.get("/up/untyped/sub/f.txt")?.data?.toString(), "f");
  });

  it("reads and writes file:// URLs only under the allowed directories", async () => {
    const shared = path.join(work.path, "shared");
    await mkdir(shared);
    await writeFile(path.join(shared, "ref.fa"), ">chr1\nACGT\n");
    await symlink(path.join(outside, "secret.txt"), path.join(shared, "sneaky.txt"));
    const file = (p: string): string => pathToFileURL(p).href;
    const allowed = { ...options, allowedDirs: [shared] };
    const down = await runTransfers(
      {
        root,
        inputs: [
          { url: file(path.join(shared, "ref.fa")), path: "/ref/ref.fa" },
          { url: file(path.join(outside, "secret.txt")), path: "/ref/secret.txt" },
          { url: file(path.join(shared, "sneaky.txt")), path: "/ref/sneaky.txt" },
        ],
      },
      "download",
      allowed,
    );
    assert.equal(await readFile(path.join(root, "ref/ref.fa"), "utf8"), ">chr1\nACGT\n");
    assert.deepEqual(
      down.files.map((f) => f.error?.replaceAll(work.path, "WORK")),
      [undefined, `file://WORK/outside/secret.txt: not under an allowed directory (WORK/shared)`, "file://WORK/shared/sneaky.txt: leads outside the allowed directories through a symlink"],
    );
    const up = await runTransfers({ root, outputs: [{ url: file(path.join(shared, "results/copy.fa")), path: "/ref/ref.fa" }] }, "upload", allowed);
    assert.equal(up.ok, true, JSON.stringify(up));
    assert.equal(await readFile(path.join(shared, "results/copy.fa"), "utf8"), ">chr1\nACGT\n");
    const none = await runTransfers({ root, inputs: [{ url: file(path.join(shared, "ref.fa")), path: "/x" }] }, "download", options);
    assert.match(none.files[0]?.error ?? "", /file URLs are not allowed here \(no FILETRANSFER_ALLOWED_DIRS\)/);
  });
});
