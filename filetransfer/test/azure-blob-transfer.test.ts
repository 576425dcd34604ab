import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BlobServiceClient, ContainerClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from "./support/azurite.js";
import { startCuttingProxy } from "./support/cutting-proxy.js";
import { generatedBuffer, md5Of } from "./support/generated-data.js";
import { assertBoundedMemory } from "./support/memory-bound.js";
import { runCli } from "./support/run-cli.js";
import { makeTempDir } from "./support/temp-dir.js";

const GiB = 1024 * 1024 * 1024;

describe("Azure Blob: Azurite on loopback", () => {
  let azurite: Azurite;
  let container: ContainerClient;
  let sas: string;
  let work: { path: string; remove: () => Promise<void> };
  let env: Record<string, string>;
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  /** A blob (or directory) URL carrying the container SAS, path-style as Azurite serves it. */
  const sasUrl = (name: string, host = azurite.host): string => `http://${host}/${AZURITE_ACCOUNT}/tes/${name}?${sas}`;
  const azUrl = (name: string): string => `az://${AZURITE_ACCOUNT}/tes/${name}`;
  const blobText = async (name: string): Promise<string> => (await container.getBlobClient(name).downloadToBuffer()).toString();

  before(async () => {
    azurite = await startAzurite();
    container = new BlobServiceClient(azurite.endpoint, credential).getContainerClient("tes");
    await container.create();
    sas = generateBlobSASQueryParameters({ containerName: "tes", permissions: ContainerSASPermissions.parse("racwl"), expiresOn: new Date(Date.now() + 3_600_000) }, credential).toString();
    work = await makeTempDir("azure");
    env = {
      FILETRANSFER_RETRY_DELAY_MS: "10",
      AZURE_STORAGE_KEY: AZURITE_KEY,
      FILETRANSFER_AZURE_BLOB_ENDPOINT: `http://${azurite.host}/{account}`,
      FILETRANSFER_AZURE_BLOB_PATH_STYLE_HOSTS: azurite.host,
    };
  });
  after(async () => {
    await azurite?.stop();
    await work?.remove();
  });

  it("uploads and downloads files by SAS URL and by az:// URL, storing and checking Content-MD5", async () => {
    const root = await makeTempDir("azure-file");
    await mkdir(path.join(root.path, "out"));
    await writeFile(path.join(root.path, "out/report.txt"), "all good\n");
    const up = await runCli("upload", { root: root.path, outputs: [{ url: sasUrl("file/by-sas.txt"), path: "/out/report.txt" }, { url: azUrl("file/by-az.txt"), path: "/out/report.txt" }] }, work.path, { env });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await blobText("file/by-sas.txt"), "all good\n");
    const stored = await container.getBlobClient("file/by-az.txt").getProperties();
    assert.deepEqual(Buffer.from(stored.contentMD5 ?? []), createHash("md5").update("all good\n").digest());

    const down = await runCli("download", { root: root.path, inputs: [{ url: sasUrl("file/by-sas.txt"), path: "/in/a.txt" }, { url: azUrl("file/by-az.txt"), path: "/in/b.txt" }] }, work.path, { env });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await readFile(path.join(root.path, "in/a.txt"), "utf8"), "all good\n");
    assert.equal(await readFile(path.join(root.path, "in/b.txt"), "utf8"), "all good\n");
    assert.deepEqual(down.report?.files.map((f) => f.size_bytes), ["9", "9"]);
    await root.remove();
  });

  it("uploads a DIRECTORY output flattened to its files, and downloads it back as a DIRECTORY input", async () => {
    const root = await makeTempDir("azure-dir");
    await mkdir(path.join(root.path, "results/a/b"), { recursive: true });
    await writeFile(path.join(root.path, "results/top.txt"), "top");
    await writeFile(path.join(root.path, "results/a/b/deep file.txt"), "deep");
    const up = await runCli("upload", { root: root.path, outputs: [{ url: azUrl("dir/run1"), path: "/results", type: "DIRECTORY" }] }, work.path, { env });
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(up.report?.files.map((f) => [f.path, f.size_bytes, f.url]), [
      ["/results/a/b/deep file.txt", "4", azUrl("dir/run1/a/b/deep%20file.txt")],
      ["/results/top.txt", "3", azUrl("dir/run1/top.txt")],
    ]);
    assert.equal(await blobText("dir/run1/a/b/deep file.txt"), "deep");

    const down = await runCli("download", { root: root.path, inputs: [{ url: sasUrl("dir/run1"), path: "/inputs/copy", type: "DIRECTORY" }] }, work.path, { env });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await readFile(path.join(root.path, "inputs/copy/a/b/deep file.txt"), "utf8"), "deep");
    assert.equal(await readFile(path.join(root.path, "inputs/copy/top.txt"), "utf8"), "top");
    await root.remove();
  });

  it("uploads wildcard matches under the output URL, named by what follows path_prefix", async () => {
    const root = await makeTempDir("azure-glob");
    await mkdir(path.join(root.path, "work/chr"), { recursive: true });
    for (const name of ["chr/1.bam", "chr/2.bam", "chr/2.bam.bai", "chr/notes.md"]) await writeFile(path.join(root.path, "work", name), name);
    const up = await runCli("upload", { root: root.path, outputs: [{ url: sasUrl("glob/"), path: "/work/chr/[0-9].bam", path_prefix: "/work/" }] }, work.path, { env });
    assert.equal(up.code, 0, up.stderr);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: "glob/" })) names.push(blob.name);
    assert.deepEqual(names, ["glob/chr/1.bam", "glob/chr/2.bam"]);
    await root.remove();
  });

  it("fails a missing blob, and a directory input with nothing under it, with exit 1 and precise errors", async () => {
    const root = await makeTempDir("azure-missing");
    const run = await runCli("download", { root: root.path, inputs: [{ url: azUrl("nope/missing.txt"), path: "/in/m.txt" }, { url: sasUrl("nope/dir"), path: "/in/dir", type: "DIRECTORY" }] }, work.path, { env });
    await root.remove();
    assert.equal(run.code, 1);
    assert.equal(run.report?.files[0]?.error, `read ${azUrl("nope/missing.txt")}: 404 BlobNotFound`);
    assert.match(run.report?.files[1]?.error ?? "", /lists no objects/);
  });

  it("fails bad credentials (a tampered SAS, a wrong account key) without printing them", async () => {
    await container.getBlockBlobClient("cred/x.txt").upload("x", 1);
    const root = await makeTempDir("azure-cred");
    const tampered = sasUrl("cred/x.txt").replace(/sig=[^&]+/, "sig=VGFtcGVyZWRTaWduYXR1cmVWYWx1ZQ%3D%3D");
    const wrongKey = Buffer.from("not the account key, but as long as one is".padEnd(64, "!")).toString("base64");
    const bySas = await runCli("download", { root: root.path, inputs: [{ url: tampered, path: "/in/x.txt" }] }, work.path, { env });
    const byKey = await runCli("download", { root: root.path, inputs: [{ url: azUrl("cred/x.txt"), path: "/in/x.txt" }] }, work.path, { env: { ...env, AZURE_STORAGE_KEY: wrongKey } });
    await root.remove();
    assert.equal(bySas.code, 1);
    assert.match(bySas.report?.files[0]?.error ?? "", /: 403 AuthorizationFailure$/);
    assert.equal(byKey.code, 1);
    assert.match(byKey.report?.files[0]?.error ?? "", /: 403 AuthorizationFailure$/);
    for (const run of [bySas, byKey]) {
      const printed = run.stderr + JSON.stringify(run.report);
      assert.ok(!printed.includes("VGFtcGVyZWRTaWduYXR1cmVWYWx1ZQ") && !printed.includes(wrongKey.slice(0, 20)), `a secret was printed: ${printed}`);
    }
  });

  it("says how to authenticate when an az:// URL finds no Entra ID credential", async () => {
    const root = await makeTempDir("azure-noidentity");
    const { AZURE_STORAGE_KEY: _key, ...withoutKey } = env;
    const run = await runCli("download", { root: root.path, inputs: [{ url: azUrl("cred/x.txt"), path: "/in/x.txt" }] }, work.path, {
      // An https endpoint, since the SDK sends tokens over https only; the credential fails before any connection.
      env: { ...withoutKey, FILETRANSFER_AZURE_BLOB_ENDPOINT: "https://127.0.0.1:9/{account}", AZURE_STORAGE_KEY: "", AZURE_CLIENT_ID: "", AZURE_TENANT_ID: "", AZURE_CLIENT_SECRET: "", AZURE_FEDERATED_TOKEN_FILE: "", IDENTITY_ENDPOINT: "", MSI_ENDPOINT: "" },
    });
    await root.remove();
    assert.equal(run.code, 1);
    assert.match(run.report?.files[0]?.error ?? "", /could not get an Entra ID token for az:\/\/ URLs .* set AZURE_STORAGE_KEY, or use an https URL with a SAS$/);
  });

  it("survives a connection dropped mid-transfer, both ways", async () => {
    const data = await generatedBuffer(24 * 1024 * 1024, 21);
    await container.getBlockBlobClient("drop/source.bin").uploadData(data);
    const proxy = await startCuttingProxy({ targetPort: azurite.port, afterBytes: 6 * 1024 * 1024 });
    const proxyHost = `127.0.0.1:${proxy.port}`;
    const root = await makeTempDir("azure-drop");
    const proxied = { ...env, FILETRANSFER_AZURE_BLOB_PATH_STYLE_HOSTS: `${azurite.host},${proxyHost}` };
    try {
      const down = await runCli("download", { root: root.path, inputs: [{ url: sasUrl("drop/source.bin", proxyHost), path: "/in/source.bin" }] }, work.path, { env: proxied });
      assert.equal(down.code, 0, down.stderr);
      assert.equal(proxy.cuts, 1, "the proxy cut the download's connection");
      assert.deepEqual(await md5Of(createReadStream(path.join(root.path, "in/source.bin"))), createHash("md5").update(data).digest());

      proxy.armAgain(200); // cut the upload's connection as soon as Azurite starts answering
      const up = await runCli("upload", { root: root.path, outputs: [{ url: sasUrl("drop/copy.bin", proxyHost), path: "/in/source.bin" }] }, work.path, { env: proxied });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(proxy.cuts, 2, "the proxy cut the upload's connection");
      assert.deepEqual(await container.getBlobClient("drop/copy.bin").downloadToBuffer(), data);
    } finally {
      await proxy.close();
      await root.remove();
    }
  });

  it("abandons and resumes a download whose connection goes silent", async () => {
    const data = await generatedBuffer(8 * 1024 * 1024, 22);
    await container.getBlockBlobClient("stall/source.bin").uploadData(data);
    const proxy = await startCuttingProxy({ targetPort: azurite.port, afterBytes: 3 * 1024 * 1024, stall: true });
    const proxyHost = `127.0.0.1:${proxy.port}`;
    const root = await makeTempDir("azure-stall");
    try {
      const started = Date.now();
      const run = await runCli("download", { root: root.path, inputs: [{ url: sasUrl("stall/source.bin", proxyHost), path: "/in/s.bin" }] }, work.path, {
        env: { ...env, FILETRANSFER_AZURE_BLOB_PATH_STYLE_HOSTS: proxyHost, FILETRANSFER_IDLE_TIMEOUT_MS: "700" },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(proxy.cuts, 1, "the proxy went silent once");
      assert.ok(Date.now() - started < 20_000);
      assert.deepEqual(await readFile(path.join(root.path, "in/s.bin")), data);
    } finally {
      await proxy.close();
      await root.remove();
    }
  });

  it("refuses a blob whose bytes do not match its stored Content-MD5", async () => {
    // Azurite checks the MD5 sent with an upload, so the wrong one is set afterwards, as a property.
    const blob = container.getBlockBlobClient("md5/bad.bin");
    await blob.upload("the real bytes", 14);
    await blob.setHTTPHeaders({ blobContentMD5: createHash("md5").update("other bytes").digest() });
    const root = await makeTempDir("azure-md5");
    const run = await runCli("download", { root: root.path, inputs: [{ url: azUrl("md5/bad.bin"), path: "/in/bad.bin" }] }, work.path, { env, args: ["--retries", "1"] });
    await root.remove();
    assert.equal(run.code, 1);
    assert.match(run.report?.files[0]?.error ?? "", /MD5 mismatch/);
  });

  it("moves a 1 GiB file up and back down with a small, fixed memory footprint", async () => {
    const root = await makeTempDir("azure-1gib");
    try {
      await mkdir(path.join(root.path, "data"));
      // A sparse file: 1 GiB to read and send, no disk blocks spent on the source.
      const sparse = await open(path.join(root.path, "data/1GiB.bin"), "w");
      await sparse.truncate(GiB);
      await sparse.close();
      await container.getBlockBlobClient("big/tiny.txt").upload("tiny", 4);
      const baseline = await runCli("download", { root: root.path, inputs: [{ url: azUrl("big/tiny.txt"), path: "/data/tiny.txt" }] }, work.path, { env });
      const up = await runCli("upload", { root: root.path, outputs: [{ url: azUrl("big/1GiB.bin"), path: "/data/1GiB.bin" }] }, work.path, { env });
      assert.equal(up.code, 0, up.stderr);
      assert.equal((await container.getBlobClient("big/1GiB.bin").getProperties()).contentLength, GiB);
      const down = await runCli("download", { root: root.path, inputs: [{ url: sasUrl("big/1GiB.bin"), path: "/data/back.bin" }] }, work.path, { env });
      assert.equal(down.code, 0, down.stderr);
      // The download checked the Content-MD5 the upload stored; the size confirms nothing was cut short.
      assert.equal(down.report?.files[0]?.size_bytes, String(GiB));
      assertBoundedMemory(baseline.peakRssBytes, up.peakRssBytes, "Azure upload of 1 GiB");
      assertBoundedMemory(baseline.peakRssBytes, down.peakRssBytes, "Azure download of 1 GiB");
    } finally {
      await root.remove();
    }
  });
});
