import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { startCuttingProxy } from "../../test/support/cutting-proxy.js";
import { assertLargeRoundTrip } from "../../test/support/large-transfer.js";
import { assertWriteCut, chunks, describeRemoteProviderContract, providerFor, readAll, readUntilCut, rejectsWithKind, withProvider, type RemoteFixture } from "../../test/support/remote-provider-contract.js";
import { itListsAMissingDirectoryAsNotFound } from "../../test/support/directory-store-contract.js";
import { describeEngineTransfers } from "../../test/support/remote-engine-transfers.js";
import { startSshServer, type SshServer } from "../../test/support/sshd-server.js";

const GiB = 1024 * 1024 * 1024;

let server: SshServer;
let scratch: string;

// Suite-level hooks: on Node 20 a file's root-level after() waits for the event loop to drain.
describe("SFTP against OpenSSH sshd", () => {
  before(async () => {
    server = await startSshServer();
    scratch = mkdtempSync(join(tmpdir(), "ft-sftp-test-"));
  });

  after(async () => {
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const fixture = (): RemoteFixture => {
    const otherKey = join(scratch, `other-${randomUUID()}`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    return {
      scheme: "sftp",
      env: server.env,
      newDirectoryUrl: () => new URL(`${server.url}/${randomUUID()}`),
      badCredentials: {
        env: { ...server.env, FILETRANSFER_SFTP_PRIVATE_KEY_FILE: otherKey, FILETRANSFER_SFTP_PASSWORD: "not-the-password-4242" },
        secret: "not-the-password-4242",
      },
      seed: async (url, data) => {
        const path = decodeURIComponent(url.pathname);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, data);
      },
      fetch: async (url) => {
        try {
          return readFileSync(decodeURIComponent(url.pathname));
        } catch {
          return undefined;
        }
      },
    };
  };

  describeRemoteProviderContract("SFTP (OpenSSH sshd)", fixture);
  describeEngineTransfers("SFTP (OpenSSH sshd)", fixture);

  describe("SFTP provider against OpenSSH", () => {
    it("refuses a server whose host key is not in known_hosts, naming the file", async () => {
      const knownHosts = join(scratch, "empty_known_hosts");
      writeFileSync(knownHosts, "");
      await withProvider("sftp", { ...server.env, FILETRANSFER_SFTP_KNOWN_HOSTS_FILE: knownHosts }, async (provider) => {
        const error = await rejectsWithKind(provider.stat(new URL(`${server.url}/x`), {}), "access-denied");
        assert.match(error.message, /host key is not in .*empty_known_hosts/);
      });
    });

    it("accepts any host key when host key checking is off", async () => {
      await withProvider("sftp", { ...server.env, FILETRANSFER_SFTP_KNOWN_HOSTS_FILE: "", HOME: scratch, FILETRANSFER_SFTP_HOST_KEY_CHECKING: "off" }, async (provider) => {
        assert.equal(await provider.stat(new URL(`${server.url}/${randomUUID()}`), {}), undefined);
      });
    });

    itListsAMissingDirectoryAsNotFound(fixture);

    it("lists a link to a file as that file, and follows no link to a directory", async () => {
      const tree = join(server.root, randomUUID(), "tree");
      mkdirSync(join(tree, "sub"), { recursive: true });
      writeFileSync(join(tree, "a.txt"), "alpha");
      symlinkSync("a.txt", join(tree, "link.txt"));
      symlinkSync("..", join(tree, "sub", "up"));
      symlinkSync("missing.txt", join(tree, "dangling.txt"));
      await withProvider("sftp", server.env, async (provider) => {
        const listed = [];
        for await (const entry of provider.list(new URL(`sftp://root@127.0.0.1:${server.port}${tree}`), {})) listed.push([entry.relativePath, entry.size]);
        assert.deepEqual(listed, [
          ["a.txt", 5],
          ["link.txt", 5],
        ]);
      });
    });

    it("resumes a download cut mid-transfer from the byte it reached, on a new connection", async () => {
      const data = randomBytes(6 * 1024 * 1024);
      const path = join(server.root, `${randomUUID()}.bin`);
      writeFileSync(path, data);
      const proxy = await startCuttingProxy({ targetPort: server.port, afterBytes: 2 * 1024 * 1024, direction: "download" });
      const knownHosts = join(scratch, `known_hosts_${proxy.port}`);
      writeFileSync(knownHosts, `${server.knownHostsLine(proxy.port)}\n`);
      const provider = providerFor("sftp", { ...server.env, FILETRANSFER_SFTP_KNOWN_HOSTS_FILE: knownHosts });
      const url = new URL(`sftp://root@127.0.0.1:${proxy.port}${path}`);
      try {
        const got = await readUntilCut((await provider.read(url, {})).body, data.length);
        assert.equal(proxy.cuts, 1);
        const rest = await readAll(provider, url, got.length);
        assert.equal(rest.resumed, true);
        assert.ok(Buffer.concat([got, rest.data]).equals(data), "the resumed bytes complete the file exactly");
      } finally {
        await provider.close?.();
        await proxy.close();
      }
    });

    it("fails an upload cut mid-transfer as retryable, and the retry stores the whole file", async () => {
      const data = randomBytes(4 * 1024 * 1024);
      const proxy = await startCuttingProxy({ targetPort: server.port, afterBytes: 1024 * 1024, direction: "upload" });
      const knownHosts = join(scratch, `known_hosts_up_${proxy.port}`);
      writeFileSync(knownHosts, `${server.knownHostsLine(proxy.port)}\n`);
      const provider = providerFor("sftp", { ...server.env, FILETRANSFER_SFTP_KNOWN_HOSTS_FILE: knownHosts });
      const path = join(server.root, randomUUID(), "up.bin");
      const url = new URL(`sftp://root@127.0.0.1:${proxy.port}${path}`);
      try {
        await assertWriteCut(provider.write(url, Readable.from(chunks(data, 64 * 1024)), { size: data.length }));
        await provider.write(url, Readable.from(chunks(data, 64 * 1024)), { size: data.length });
        assert.ok(readFileSync(path).equals(data));
        assert.equal(proxy.cuts, 1, "the proxy cut the first upload only");
      } finally {
        await provider.close?.();
        await proxy.close();
      }
    });

    it("moves 1 GiB up and down with a small, fixed memory footprint", { timeout: 240_000 }, async () => {
      const url = `${server.url}/${randomUUID()}/large.bin`;
      await assertLargeRoundTrip("sftp", server.env, url, GiB);
    });
  });
});
