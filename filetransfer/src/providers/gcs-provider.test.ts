import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { runTransfers } from "../index.js";
import { startCuttingProxy } from "../../test/support/cutting-proxy.js";
import { startGcsServer, type GcsServer } from "../../test/support/gcs-server.js";
import { assertLargeRoundTrip } from "../../test/support/large-transfer.js";
import { assertWriteCut, chunks, describeRemoteProviderContract, providerFor, readAll, rejectsWithKind, withProvider, type RemoteFixture } from "../../test/support/remote-provider-contract.js";
import { describeEngineTransfers } from "../../test/support/remote-engine-transfers.js";

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const BUCKET = "filetransfer-test";

let server: GcsServer;

function nameOf(url: URL): string {
  return decodeURIComponent(url.pathname.slice(1));
}

// Suite-level hooks: on Node 20 a file's root-level after() waits for the event loop to drain.
describe("GCS against the GCS JSON API test server", () => {
  before(async () => {
    // Every request must carry a service account's signed JWT, as on Google Cloud.
    server = await startGcsServer({ anonymous: false });
    server.createBucket(BUCKET);
  });

  after(async () => {
    await server?.stop();
  });

  const fixture = (): RemoteFixture => {
    const untrustedKey = JSON.parse(readFileSync(server.credentials.untrustedKeyFile, "utf8")) as { private_key: string };
    return {
      scheme: "gs",
      env: server.env,
      newDirectoryUrl: () => new URL(`gs://${BUCKET}/${randomUUID()}`),
      badCredentials: {
        env: { ...server.env, FILETRANSFER_GCS_KEY_FILE: server.credentials.untrustedKeyFile },
        secret: untrustedKey.private_key.split("\n")[1] as string,
      },
      seed: async (url, data) => server.putObject(url.hostname, nameOf(url), data),
      fetch: async (url) => server.getObject(url.hostname, nameOf(url)),
    };
  };

  describeRemoteProviderContract("GCS (service account key)", fixture);
  describeEngineTransfers("GCS (service account key)", fixture);

  describe("GCS provider against the GCS JSON API test server", () => {
    it("reads a public object without credentials", async () => {
      const open = await startGcsServer({ anonymous: true });
      open.createBucket("public-bucket");
      open.putObject("public-bucket", "data/open.txt", Buffer.from("anyone may read this"));
      const provider = providerFor("gs", { FILETRANSFER_GCS_ENDPOINT: open.endpoint });
      try {
        assert.equal((await readAll(provider, new URL("gs://public-bucket/data/open.txt"))).data.toString(), "anyone may read this");
      } finally {
        await provider.close?.();
        await open.stop();
      }
    });

    it("tells a missing bucket apart as not-found", async () => {
      await withProvider("gs", server.env, async (provider) => {
        await rejectsWithKind(provider.read(new URL(`gs://no-such-bucket-${randomUUID().slice(0, 8)}/x.txt`), {}), "not-found");
      });
    });

    it("stores a large object through a resumable session, checked against its MD5", async () => {
      await withProvider("gs", server.env, async (provider) => {
        const url = new URL(`gs://${BUCKET}/${randomUUID()}/resumable.bin`);
        const data = randomBytes(12 * MiB + 5);
        await provider.write(url, Readable.from(chunks(data, 256 * 1024)), { size: data.length });
        assert.deepEqual(server.getObject(BUCKET, nameOf(url)), data);
        assert.equal((await provider.stat(url, {}))?.size, data.length);
      });
    });

    it("completes a download cut mid-transfer: the engine notices the stall and resumes with a Range request", async () => {
      // The client library's stream neither ends nor fails when the server cuts a response short,
      // so the engine's idle watchdog is what notices; the retry asks for the rest only.
      const data = randomBytes(8 * MiB);
      const url = new URL(`gs://${BUCKET}/${randomUUID()}/cut.bin`);
      server.putObject(BUCKET, nameOf(url), data);
      const root = mkdtempSync(join(tmpdir(), "ft-gcs-cut-"));
      try {
        server.dropNextDownloadAfter(2 * MiB);
        const report = await runTransfers({ root, inputs: [{ url: url.href, path: "/in/cut.bin" }] }, "download", {
          env: server.env,
          retries: 2,
          retryBaseDelayInMs: 10,
          idleTimeoutInMs: 1500,
        });
        assert.equal(report.ok, true, JSON.stringify(report));
        assert.ok(readFileSync(join(root, "in/cut.bin")).equals(data), "the resumed download is the whole object");
        assert.ok(server.rangeRequests.some((range) => /^bytes=[1-9]\d*-$/.test(range)), `a Range request resumed it: ${server.rangeRequests.join(", ")}`);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    it("fails an upload cut mid-transfer as retryable, and the retry stores the whole object", async () => {
      const data = randomBytes(12 * MiB);
      const url = new URL(`gs://${BUCKET}/${randomUUID()}/up.bin`);
      const proxy = await startCuttingProxy({ targetPort: Number(new URL(server.endpoint).port), afterBytes: 3 * MiB, direction: "upload" });
      const provider = providerFor("gs", { ...server.env, FILETRANSFER_GCS_ENDPOINT: `http://127.0.0.1:${proxy.port}` });
      try {
        await assertWriteCut(provider.write(url, Readable.from(chunks(data, 256 * 1024)), { size: data.length }));
        await provider.write(url, Readable.from(chunks(data, 256 * 1024)), { size: data.length });
        assert.deepEqual(server.getObject(BUCKET, nameOf(url)), data);
        assert.equal(proxy.cuts, 1, "the proxy cut the first upload only");
      } finally {
        await provider.close?.();
        await proxy.close();
      }
    });

    it("moves 1 GiB up (resumable) and down with a small, fixed memory footprint", { timeout: 300_000 }, async () => {
      const url = `gs://${BUCKET}/${randomUUID()}/large.bin`;
      await assertLargeRoundTrip("gs", server.env, url, GiB);
    });
  });
});
