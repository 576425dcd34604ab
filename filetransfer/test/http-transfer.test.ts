import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generatedMd5, md5Of } from "./support/generated-data.js";
import { startHttpTestServer, type HttpTestServer } from "./support/http-test-server.js";
import { assertBoundedMemory } from "./support/memory-bound.js";
import { runCli } from "./support/run-cli.js";
import { makeTempDir } from "./support/temp-dir.js";
import { selfSignedCertificate } from "./support/tls-certificate.js";

const FAST_RETRIES = { FILETRANSFER_RETRY_DELAY_MS: "10" };
const TOKEN = "sv2024sigQmFkU2VjcmV0VG9rZW4";
const GiB = 1024 * 1024 * 1024;

describe("HTTP(S): a local HTTP server on loopback", () => {
  let server: HttpTestServer;
  let work: { path: string; remove: () => Promise<void> };
  const signed = (p: string): string => `${server.origin}${p}?sig=${TOKEN}`;

  before(async () => {
    server = await startHttpTestServer({
      token: TOKEN,
      objects: {
        "/inputs/a.txt": { data: Buffer.from("alpha\n"), md5: true },
        "/inputs/busy.txt": { data: Buffer.from("finally\n") },
        "/inputs/down.txt": { data: Buffer.from("never\n") },
        "/inputs/b c.txt": { data: Buffer.from("bravo\n") },
        "/inputs/big.bin": { generated: { size: 64 * 1024 * 1024, seed: 7 }, md5: true },
        "/inputs/flaky.bin": { generated: { size: 32 * 1024 * 1024, seed: 8 }, md5: true },
        "/inputs/corrupt.bin": { data: Buffer.from("these bytes do not hash to the announced MD5"), md5: "wrong" },
        "/inputs/1GiB.bin": { generated: { size: GiB, seed: 9 }, md5: true },
      },
      cutOnce: { "/inputs/flaky.bin": 5 * 1024 * 1024 },
      failFirst: { "/inputs/busy.txt": 3, "/inputs/down.txt": 1000 },
    });
    work = await makeTempDir("http");
  });
  after(async () => {
    await server.close();
    await work.remove();
  });

  it("downloads files into place under root, verifying Content-MD5, beside content inputs", async () => {
    const root = path.join(work.path, "download");
    await mkdir(root);
    const run = await runCli(
      "download",
      {
        root,
        inputs: [
          { url: signed("/inputs/a.txt"), path: "/data/a.txt" },
          { url: signed("/inputs/b%20c.txt"), path: "/data/nested/deeper/b c.txt", type: "FILE" },
          { url: signed("/inputs/big.bin"), path: "/data/big.bin", streamable: true },
          { content: "literal content\n", path: "/etc/task/config.txt", url: "ignored://when-content-is-set" },
        ],
      },
      work.path,
      { env: FAST_RETRIES },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await readFile(path.join(root, "data/a.txt"), "utf8"), "alpha\n");
    assert.equal(await readFile(path.join(root, "data/nested/deeper/b c.txt"), "utf8"), "bravo\n");
    assert.equal(await readFile(path.join(root, "etc/task/config.txt"), "utf8"), "literal content\n");
    assert.deepEqual(await md5Of(createReadStream(path.join(root, "data/big.bin"))), await generatedMd5(64 * 1024 * 1024, 7));
    assert.deepEqual(
      run.report?.files.map((f) => [f.path, f.size_bytes, f.error]),
      [
        ["/data/a.txt", "6", undefined],
        ["/data/nested/deeper/b c.txt", "6", undefined],
        ["/data/big.bin", String(64 * 1024 * 1024), undefined],
        ["/etc/task/config.txt", "16", undefined],
      ],
    );
    assert.match(run.stderr, /download 4\/4 files/);
  });

  it("refuses a DIRECTORY input, since HTTP cannot list, naming the input", async () => {
    const root = await makeTempDir("http-dir-in");
    const run = await runCli("download", { root: root.path, inputs: [{ url: signed("/inputs/"), path: "/data/in", type: "DIRECTORY" }] }, work.path, { env: FAST_RETRIES });
    await root.remove();
    assert.equal(run.code, 1);
    assert.equal(run.report?.files[0]?.path, "/data/in");
    assert.match(run.report?.files[0]?.error ?? "", /HTTP cannot list a directory/);
  });

  it("uploads a DIRECTORY output with one PUT per file, one report entry per file with its size", async () => {
    const root = await makeTempDir("http-dir-out");
    await mkdir(path.join(root.path, "results/sub"), { recursive: true });
    await writeFile(path.join(root.path, "results/one.txt"), "1");
    await writeFile(path.join(root.path, "results/sub/two words.txt"), "22");
    const run = await runCli("upload", { root: root.path, outputs: [{ url: signed("/out/run1"), path: "/results", type: "DIRECTORY" }] }, work.path, { env: FAST_RETRIES });
    await root.remove();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      run.report?.files.map((f) => [f.path, f.size_bytes, f.url]),
      [
        ["/results/one.txt", "1", `${server.origin}/out/run1/one.txt?sig=REDACTED`],
        ["/results/sub/two words.txt", "2", `${server.origin}/out/run1/sub/two%20words.txt?sig=REDACTED`],
      ],
    );
    assert.equal(server.uploads.get("/out/run1/one.txt")?.data?.toString(), "1");
    assert.equal(server.uploads.get("/out/run1/sub/two%20words.txt")?.data?.toString(), "22");
  });

  it("uploads each wildcard match to url + (match minus path_prefix), and ignores non-matches", async () => {
    const root = await makeTempDir("http-glob");
    await mkdir(path.join(root.path, "work/logs"), { recursive: true });
    for (const name of ["a.vcf", "b.vcf", "notes.txt", ".hidden.vcf", "logs/c.vcf"]) await writeFile(path.join(root.path, "work", name), name);
    const run = await runCli(
      "upload",
      { root: root.path, outputs: [{ url: signed("/out/vcfs/"), path: "/work/*.vcf", path_prefix: "/work/" }, { url: signed("/out/none/"), path: "/work/*.bam", path_prefix: "/work/" }] },
      work.path,
      { env: FAST_RETRIES },
    );
    await root.remove();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.report?.files.map((f) => f.path), ["/work/a.vcf", "/work/b.vcf"]);
    assert.equal(server.uploads.get("/out/vcfs/a.vcf")?.data?.toString(), "a.vcf");
    assert.equal(server.uploads.get("/out/vcfs/b.vcf")?.data?.toString(), "b.vcf");
  });

  it("fails a missing object with exit 1 and a precise error, while the other inputs still arrive", async () => {
    const root = await makeTempDir("http-missing");
    const run = await runCli(
      "download",
      { root: root.path, inputs: [{ url: signed("/inputs/nope.txt"), path: "/data/nope.txt" }, { url: signed("/inputs/a.txt"), path: "/data/a.txt" }] },
      work.path,
      { env: FAST_RETRIES },
    );
    const arrived = await readFile(path.join(root.path, "data/a.txt"), "utf8");
    const leftovers = await stat(path.join(root.path, "data/nope.txt")).then(() => true, () => false);
    await root.remove();
    assert.equal(run.code, 1);
    assert.equal(arrived, "alpha\n");
    assert.equal(leftovers, false, "no partial file is left at the path of a failed download");
    assert.equal(run.report?.ok, false);
    assert.equal(run.report?.files[0]?.error, `GET ${server.origin}/inputs/nope.txt?sig=REDACTED answered 404 Not Found`);
    assert.match(run.stderr, /FAILED \/data\/nope\.txt/);
    assert.equal(server.requests.filter((r) => r === "GET /inputs/nope.txt").length, 1, "a 404 is not retried");
  });

  it("fails bad credentials at once, without retrying, and never prints the signature", async () => {
    const root = await makeTempDir("http-badcred");
    const wrong = "sv2024sigV3JvbmdTZWNyZXRUb2tlbg";
    const before = server.requests.length;
    const run = await runCli("download", { root: root.path, inputs: [{ url: `${server.origin}/inputs/a.txt?sig=${wrong}`, path: "/data/a.txt" }] }, work.path, { env: FAST_RETRIES });
    await root.remove();
    assert.equal(run.code, 1);
    assert.match(run.report?.files[0]?.error ?? "", /answered 403 Forbidden/);
    assert.equal(server.requests.length - before, 1);
    const everything = run.stderr + run.stdout + JSON.stringify(run.report);
    assert.ok(!everything.includes(wrong) && !everything.includes(TOKEN), "the signature leaked");
  });

  it("resumes a download whose connection dropped mid-transfer, with a Range request", async () => {
    const root = await makeTempDir("http-drop");
    const run = await runCli("download", { root: root.path, inputs: [{ url: signed("/inputs/flaky.bin"), path: "/data/flaky.bin" }] }, work.path, { env: FAST_RETRIES });
    const md5 = await md5Of(createReadStream(path.join(root.path, "data/flaky.bin")));
    await root.remove();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(md5, await generatedMd5(32 * 1024 * 1024, 8));
    const gets = server.requests.filter((r) => r.startsWith("GET /inputs/flaky.bin"));
    assert.equal(gets.length, 2);
    assert.match(gets[1] ?? "", /^GET \/inputs\/flaky\.bin bytes=\d+-$/);
    assert.ok(Number(/bytes=(\d+)-/.exec(gets[1] ?? "")?.[1]) > 0, "the second request starts past 0");
  });

  it("retries a 503 with exponential backoff, and gives up after --retries", async () => {
    const root = await makeTempDir("http-backoff");
    const run = await runCli(
      "download",
      { root: root.path, inputs: [{ url: signed("/inputs/busy.txt"), path: "/busy.txt" }, { url: signed("/inputs/down.txt"), path: "/down.txt" }] },
      work.path,
      { env: { FILETRANSFER_RETRY_DELAY_MS: "100" }, args: ["--retries", "3", "--parallel", "1"] },
    );
    const busy = await readFile(path.join(root.path, "busy.txt"), "utf8");
    await root.remove();
    assert.equal(busy, "finally\n");
    assert.equal(run.code, 1);
    assert.equal(run.report?.files[1]?.error, `GET ${server.origin}/inputs/down.txt?sig=REDACTED answered 503 Service Unavailable`);
    const times = server.requests.flatMap((request, i) => (request === "GET /inputs/busy.txt" ? [server.requestTimes[i] as number] : []));
    assert.equal(times.length, 4, "three 503s, then the file");
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // 100, 200, 400 ms, each within the ±20% jitter (and a little scheduling slack).
    gaps.forEach((gap, i) => {
      const nominal = 100 * 2 ** i;
      assert.ok(gap >= nominal * 0.8 - 5 && gap <= nominal * 1.2 + 150, `retry ${i + 1} came after ${gap.toFixed(0)} ms, expected about ${nominal}`);
    });
    assert.equal(server.requests.filter((r) => r === "GET /inputs/down.txt").length, 4, "one attempt and three retries");
  });

  it("fails a file whose bytes do not match the store's Content-MD5, after retrying it", async () => {
    const root = await makeTempDir("http-md5");
    const run = await runCli("download", { root: root.path, inputs: [{ url: signed("/inputs/corrupt.bin"), path: "/data/c.bin" }] }, work.path, { env: FAST_RETRIES, args: ["--retries", "1"] });
    await root.remove();
    assert.equal(run.code, 1);
    assert.match(run.report?.files[0]?.error ?? "", /MD5 mismatch/);
    assert.equal(server.requests.filter((r) => r === "GET /inputs/corrupt.bin").length, 2);
  });

  it("follows a bounded number of redirects", async () => {
    const root = await makeTempDir("http-redirect");
    const run = await runCli(
      "download",
      { root: root.path, inputs: [{ url: signed("/redirect/3/inputs/a.txt"), path: "/a" }, { url: signed("/redirect/6/inputs/a.txt"), path: "/b" }] },
      work.path,
      { env: FAST_RETRIES },
    );
    await root.remove();
    assert.equal(run.report?.files[0]?.error, undefined);
    assert.match(run.report?.files[1]?.error ?? "", /more than 5 redirects/);
  });

  it("refuses link-local and metadata addresses as sources, however they are spelled", async () => {
    const root = await makeTempDir("http-metadata");
    const urls = ["http://169.254.169.254/latest/meta-data/", "http://2852039166/metadata", "http://0xa9fea9fe/", "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/"];
    const run = await runCli("download", { root: root.path, inputs: urls.map((url, i) => ({ url, path: `/m${i}` })) }, work.path, { env: FAST_RETRIES });
    await root.remove();
    assert.equal(run.code, 1);
    for (const file of run.report?.files ?? []) assert.match(file.error ?? "", /link-local and cloud metadata addresses are blocked/);
  });

  it("moves at most --parallel files at once", async () => {
    const slow = await startHttpTestServer({ delayMs: 150, objects: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`/f${i}`, { data: Buffer.from(`file ${i}`) }])) });
    const root = await makeTempDir("http-parallel");
    const run = await runCli("download", { root: root.path, inputs: Array.from({ length: 8 }, (_, i) => ({ url: `${slow.origin}/f${i}`, path: `/in/f${i}` })) }, work.path, {
      args: ["--parallel", "3"],
    });
    await root.remove();
    await slow.close();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(slow.maxInFlight(), 3);
  });

  it("works over HTTPS, and refuses a redirect from https down to http", async () => {
    const certDir = await makeTempDir("https-cert");
    const tls = await selfSignedCertificate(certDir.path);
    const secure = await startHttpTestServer({
      tls,
      objects: { "/secure.txt": { data: Buffer.from("over tls\n"), md5: true } },
      redirectTo: { "/downgrade.txt": `${server.origin}/inputs/a.txt` },
    });
    const root = await makeTempDir("https");
    try {
      const run = await runCli(
        "download",
        { root: root.path, inputs: [{ url: `${secure.origin}/secure.txt`, path: "/s.txt" }, { url: `${secure.origin}/downgrade.txt`, path: "/d.txt" }] },
        work.path,
        { env: { ...FAST_RETRIES, NODE_EXTRA_CA_CERTS: tls.certFile } },
      );
      assert.equal(await readFile(path.join(root.path, "s.txt"), "utf8"), "over tls\n");
      assert.equal(run.report?.files[0]?.error, undefined);
      assert.equal(run.report?.files[1]?.error, `GET ${secure.origin}/downgrade.txt: refused a redirect from https to http`);
    } finally {
      await secure.close();
      await root.remove();
      await certDir.remove();
    }
  });

  it("moves a 1 GiB file down and back up with a small, fixed memory footprint", async () => {
    const root = await makeTempDir("http-1gib");
    try {
      // The footprint of a run moving 6 bytes: what the process costs before any data flows.
      const baseline = await runCli("download", { root: root.path, inputs: [{ url: signed("/inputs/a.txt"), path: "/data/a.txt" }] }, work.path, { env: FAST_RETRIES });
      const down = await runCli("download", { root: root.path, inputs: [{ url: signed("/inputs/1GiB.bin"), path: "/data/1GiB.bin" }] }, work.path, { env: FAST_RETRIES });
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await stat(path.join(root.path, "data/1GiB.bin"))).size, GiB);
      const up = await runCli("upload", { root: root.path, outputs: [{ url: signed("/out/1GiB.bin"), path: "/data/1GiB.bin" }] }, work.path, { env: FAST_RETRIES });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(server.uploads.get("/out/1GiB.bin")?.size, GiB);
      // Content-MD5 was verified on the way down; the upload must carry the very same bytes back.
      assert.deepEqual(server.uploads.get("/out/1GiB.bin")?.md5, await generatedMd5(GiB, 9));
      assertBoundedMemory(baseline.peakRssBytes, down.peakRssBytes, "download");
      assertBoundedMemory(baseline.peakRssBytes, up.peakRssBytes, "upload");
    } finally {
      await root.remove();
    }
  });
});
