import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { FTP_TEST_USER, startFtpsServer, type FtpsServer } from "../../test/support/ftps-server.js";
import { assertLargeRoundTrip } from "../../test/support/large-transfer.js";
import { assertWriteCut, chunks, describeRemoteProviderContract, readAll, readUntilCut, rejectsWithKind, withProvider, type RemoteFixture } from "../../test/support/remote-provider-contract.js";
import { itListsAMissingDirectoryAsNotFound } from "../../test/support/directory-store-contract.js";
import { describeEngineTransfers } from "../../test/support/remote-engine-transfers.js";
import { execFileSync } from "node:child_process";

const GiB = 1024 * 1024 * 1024;

let server: FtpsServer;

/** Files seeded on the server's disk belong to the FTP user, as if it had uploaded them. */
function seedFile(path: string, data: Buffer): void {
  const uid = Number(execFileSync("id", ["-u", FTP_TEST_USER]).toString().trim());
  const parts = dirname(path).slice(server.root.length).split("/").filter(Boolean);
  let dir = server.root;
  for (const part of parts) {
    dir = join(dir, part);
    mkdirSync(dir, { recursive: true });
    chownSync(dir, uid, -1);
  }
  writeFileSync(path, data);
  chownSync(path, uid, -1);
}

// Suite-level hooks: on Node 20 a file's root-level after() waits for the event loop to drain.
describe("FTPS against vsftpd", () => {
  before(async () => {
    server = await startFtpsServer();
  });

  after(async () => {
    await server?.stop();
  });

  const fixture = (): RemoteFixture => ({
    scheme: "ftps",
    env: server.env,
    newDirectoryUrl: () => new URL(`${server.url}/${randomUUID()}`),
    badCredentials: {
      env: { ...server.env, FILETRANSFER_FTPS_PASSWORD: "not-the-password-4242" },
      secret: "not-the-password-4242",
    },
    seed: async (url, data) => seedFile(join(server.root, decodeURIComponent(url.pathname)), data),
    fetch: async (url) => {
      try {
        return readFileSync(join(server.root, decodeURIComponent(url.pathname)));
      } catch {
        return undefined;
      }
    },
  });

  describeRemoteProviderContract("FTPS (vsftpd, explicit TLS)", fixture);
  describeEngineTransfers("FTPS (vsftpd, explicit TLS)", fixture);

  describe("FTPS provider against vsftpd", () => {
    it("refuses a server certificate it does not trust", async () => {
      const { FILETRANSFER_FTPS_CA_FILE: _ca, ...withoutCa } = server.env;
      await withProvider("ftps", withoutCa, async (provider) => {
        const error = await rejectsWithKind(provider.stat(new URL(`${server.url}/x`), {}), "access-denied");
        assert.match(error.message, /certificate/);
      });
    });

    it("accepts any certificate when told to (FILETRANSFER_FTPS_INSECURE_TLS)", async () => {
      const { FILETRANSFER_FTPS_CA_FILE: _ca, ...withoutCa } = server.env;
      await withProvider("ftps", { ...withoutCa, FILETRANSFER_FTPS_INSECURE_TLS: "true" }, async (provider) => {
        assert.equal(await provider.stat(new URL(`${server.url}/${randomUUID()}`), {}), undefined);
      });
    });

    it("takes the credentials from the URL's user info and never prints the password", async () => {
      const url = new URL(`${server.url}/${randomUUID()}/from-url.txt`);
      seedFile(join(server.root, url.pathname), Buffer.from("via URL credentials"));
      const { FILETRANSFER_FTPS_USERNAME: _u, FILETRANSFER_FTPS_PASSWORD: _p, ...noCredentials } = server.env;
      await withProvider("ftps", noCredentials, async (provider) => {
        const withUser = new URL(url.href);
        withUser.username = server.credentials.username;
        withUser.password = server.credentials.password;
        assert.equal((await readAll(provider, withUser)).data.toString(), "via URL credentials");
        withUser.password = "wrong-password-in-url";
        const error = await rejectsWithKind(readAll(provider, withUser), "access-denied");
        assert.ok(!error.message.includes("wrong-password-in-url"), error.message);
      });
    });

    itListsAMissingDirectoryAsNotFound(fixture);

    it("resumes a download cut mid-transfer (REST) from the byte it reached, on a new connection", async () => {
      const data = randomBytes(8 * 1024 * 1024);
      const url = new URL(`${server.url}/${randomUUID()}/cut.bin`);
      seedFile(join(server.root, url.pathname), data);
      await withProvider("ftps", server.env, async (provider) => {
        const got = await readUntilCut((await provider.read(url, {})).body, data.length, (receivedBytes, chunk) => {
          // The server's session processes die, as they would when the network between us fails.
          if (receivedBytes >= 1024 * 1024 && receivedBytes - chunk.length < 1024 * 1024) server.dropSessions();
        });
        const rest = await readAll(provider, url, got.length);
        assert.equal(rest.resumed, true);
        assert.ok(Buffer.concat([got, rest.data]).equals(data), "the resumed bytes complete the file exactly");
      });
    });

    it("fails an upload cut mid-transfer as retryable, and the retry stores the whole file", async () => {
      const data = randomBytes(8 * 1024 * 1024);
      const url = new URL(`${server.url}/${randomUUID()}/up.bin`);
      await withProvider("ftps", server.env, async (provider) => {
        let sent = 0;
        const source = Readable.from(chunks(data, 64 * 1024)).on("data", (chunk: Buffer) => {
          sent += chunk.length;
          if (sent >= 2 * 1024 * 1024 && sent - chunk.length < 2 * 1024 * 1024) server.dropSessions();
        });
        await assertWriteCut(provider.write(url, source, { size: data.length }));
        await provider.write(url, Readable.from(chunks(data, 64 * 1024)), { size: data.length });
        assert.ok(readFileSync(join(server.root, url.pathname)).equals(data));
      });
    });

    it("moves 1 GiB up and down with a small, fixed memory footprint", { timeout: 300_000 }, async () => {
      const url = `${server.url}/${randomUUID()}/large.bin`;
      await assertLargeRoundTrip("ftps", server.env, url, GiB);
    });
  });
});
