import { execFile } from "node:child_process";
import { mkdir, open, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from "../../filetransfer/test/support/azurite.js";
import { startHttpTestServer } from "../../filetransfer/test/support/http-test-server.js";
import { runCli } from "../../filetransfer/test/support/run-cli.js";
import { makeTempDir } from "../../filetransfer/test/support/temp-dir.js";
import type { BenchFunction, Figure, Ratio } from "./bench-result.js";

const run = promisify(execFile);

/**
 * Transfer throughput on loopback, filetransfer against a plain copy of the same bytes from the
 * same server: curl for HTTP (GET to a file, PUT from it), the SDK's own uploadFile and
 * downloadToFile in one call for Azurite. filetransfer runs as its CLI in its own process, as on
 * a node, and its time is the per-file duration from its report (so process start-up is left
 * out, as it is for curl). Its time includes what the plain copy skips: MD5 verification on the
 * way down, an MD5 pass before upload. BENCH_FILETRANSFER_MIB sets the size (default 512).
 */
export const bench: BenchFunction = async ({ log }) => {
  const mib = Number(process.env.BENCH_FILETRANSFER_MIB ?? 512);
  if (!Number.isInteger(mib) || mib < 1) throw new Error(`BENCH_FILETRANSFER_MIB must be a positive integer, got "${process.env.BENCH_FILETRANSFER_MIB}"`);
  const size = mib * 1024 * 1024;
  const figures: Record<string, Figure> = {};
  const ratios: Record<string, Ratio> = {};
  const rate = (seconds: number): number => Math.round((size / 2 ** 20 / seconds) * 10) / 10;
  const record = (name: string, seconds: number): void => {
    figures[name] = { value: rate(seconds), unit: "MiB/s" };
    log(`${name}: ${rate(seconds)} MiB/s (${seconds.toFixed(2)} s for ${mib} MiB)`);
  };
  const compare = (name: string, ours: string, plain: string): void => {
    ratios[name] = { value: (figures[ours]?.value ?? 0) / (figures[plain]?.value ?? 1), of: [ours, plain], target: 0.5 };
  };
  const reportSeconds = (report: Awaited<ReturnType<typeof runCli>>): number => {
    const file = report.report?.files[0];
    if (report.code !== 0 || !file || file.error) throw new Error(`filetransfer failed: ${file?.error ?? report.stderr}`);
    return file.duration_ms / 1000;
  };

  const work = await makeTempDir("bench");
  const server = await startHttpTestServer({ objects: { "/data.bin": { generated: { size, seed: 5 }, md5: true } } });
  const azurite = await startAzurite();
  try {
    const root = path.join(work.path, "root");
    await mkdir(path.join(root, "data"), { recursive: true });
    const source = path.join(root, "data/source.bin");

    // HTTP download: curl -o FILE against filetransfer download.
    log(`HTTP: ${mib} MiB from a loopback server`);
    const curlDown = await run("curl", ["-sS", "--fail", "-o", source, "-w", "%{time_total}", `${server.origin}/data.bin`]);
    record("http.download.curl", Number(curlDown.stdout));
    record("http.download.filetransfer", reportSeconds(await runCli("download", { root, inputs: [{ url: `${server.origin}/data.bin`, path: "/data/ft.bin" }] }, work.path)));
    compare("http.download.filetransfer/curl", "http.download.filetransfer", "http.download.curl");

    // HTTP upload: curl -T FILE against filetransfer upload, same file, same server.
    const curlUp = await run("curl", ["-sS", "--fail", "-T", source, "-w", "%{time_total}", `${server.origin}/up/curl.bin`]);
    record("http.upload.curl", Number(curlUp.stdout));
    record("http.upload.filetransfer", reportSeconds(await runCli("upload", { root, outputs: [{ url: `${server.origin}/up/ft.bin`, path: "/data/source.bin" }] }, work.path)));
    compare("http.upload.filetransfer/curl", "http.upload.filetransfer", "http.upload.curl");
    if ((await stat(source)).size !== size) throw new Error("the source file has the wrong size");

    // Azurite: the SDK's own one-call uploadFile/downloadToFile against filetransfer.
    log(`Azurite: ${mib} MiB`);
    const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    const container = new BlobServiceClient(azurite.endpoint, credential).getContainerClient("bench");
    await container.create();
    const env = { AZURE_STORAGE_KEY: AZURITE_KEY, FILETRANSFER_AZURE_BLOB_ENDPOINT: `http://${azurite.host}/{account}` };
    let started = performance.now();
    await container.getBlockBlobClient("sdk.bin").uploadFile(source);
    record("azurite.upload.sdk", (performance.now() - started) / 1000);
    record("azurite.upload.filetransfer", reportSeconds(await runCli("upload", { root, outputs: [{ url: `az://${AZURITE_ACCOUNT}/bench/ft.bin`, path: "/data/source.bin" }] }, work.path, { env })));
    compare("azurite.upload.filetransfer/sdk", "azurite.upload.filetransfer", "azurite.upload.sdk");

    started = performance.now();
    await container.getBlockBlobClient("sdk.bin").downloadToFile(path.join(root, "data/sdk-copy.bin"));
    record("azurite.download.sdk", (performance.now() - started) / 1000);
    record("azurite.download.filetransfer", reportSeconds(await runCli("download", { root, inputs: [{ url: `az://${AZURITE_ACCOUNT}/bench/ft.bin`, path: "/data/ft-copy.bin" }] }, work.path, { env })));
    compare("azurite.download.filetransfer/sdk", "azurite.download.filetransfer", "azurite.download.sdk");
  } finally {
    await azurite.stop();
    await server.close();
    await work.remove();
  }
  return { figures, ratios };
};
