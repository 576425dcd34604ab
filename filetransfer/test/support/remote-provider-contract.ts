import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { ProviderError } from "../../src/provider-error.js";
import { providerFor, withProvider } from "./provider-for.js";
import type { StorageProvider } from "../../src/storage-provider.js";

/**
 * What every remote provider (SFTP, FTPS, S3, GCS) must do against its real server, written once
 * and run by each provider's test file with its own fixture, in the manner of a conformance suite.
 */
export interface RemoteFixture {
  scheme: string;
  /** A fresh directory URL for one test: everything the test touches lives under it. */
  newDirectoryUrl(): URL;
  /** Settings that make the provider reach the server with valid credentials. */
  env: Record<string, string>;
  /** Settings with wrong credentials, and the secret in them that must never be printed. */
  badCredentials: { env: Record<string, string>; secret: string };
  /** Stores an object by the server's own means, bypassing the provider. */
  seed(url: URL, data: Buffer): Promise<void>;
  /** Reads an object back by the server's own means; undefined when it does not exist. */
  fetch(url: URL): Promise<Buffer | undefined>;
}

export { providerFor, withProvider };

export function child(directory: URL, relativePath: string): URL {
  const url = new URL(directory.href);
  url.pathname = `${url.pathname.replace(/\/$/, "")}/${relativePath}`;
  return url;
}

export async function readAll(provider: StorageProvider, url: URL, offset?: number): Promise<{ data: Buffer; resumed: boolean; size?: number }> {
  const result = await provider.read(url, offset === undefined ? {} : { offset });
  const data = await buffer(result.body);
  return { data, resumed: result.resumed, ...(result.size === undefined ? {} : { size: result.size }) };
}

export async function rejectsWithKind(promise: Promise<unknown>, kind: ProviderError["kind"]): Promise<ProviderError> {
  const error = await promise.then(
    () => assert.fail(`expected a ${kind} ProviderError, the call succeeded`),
    (err: unknown) => err,
  );
  assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  return error;
}

/**
 * Reads a body whose connection is cut mid-transfer: it must fail, not end short. Returns the bytes
 * received before the cut. `onReceived` sees the running count, e.g. to cut the connection itself.
 */
export async function readUntilCut(body: Readable, totalBytes: number, onReceived?: (receivedBytes: number, chunk: Buffer) => void): Promise<Buffer> {
  const received: Buffer[] = [];
  let receivedBytes = 0;
  const cut = await new Promise<unknown>((resolve) => {
    body.on("data", (chunk: Buffer) => {
      received.push(chunk);
      receivedBytes += chunk.length;
      onReceived?.(receivedBytes, chunk);
    });
    body.once("error", resolve);
    body.once("end", () => resolve(undefined));
  });
  assert.ok(cut instanceof Error, "the first read ends in an error, not a short success");
  const got = Buffer.concat(received);
  assert.ok(got.length > 0 && got.length < totalBytes, `received ${got.length} bytes before the cut`);
  return got;
}

/** A write whose connection is cut mid-transfer must fail as worth retrying, not as refused credentials. */
export async function assertWriteCut(write: Promise<void>): Promise<void> {
  const error = await write.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(error instanceof Error, "the cut upload fails");
  assert.notEqual((error as { kind?: string }).kind, "access-denied");
}

export function describeRemoteProviderContract(name: string, fixture: () => RemoteFixture): void {
  describe(`${name} provider contract`, () => {
    it("reads an object stored by someone else, whole and from an offset", async () => {
      const f = fixture();
      await withProvider(f.scheme, f.env, async (provider) => {
        const url = child(f.newDirectoryUrl(), "inputs/hello.txt");
        await f.seed(url, Buffer.from("hello, remote world\n"));
        const info = await provider.stat(url, {});
        assert.equal(info?.size, 20);
        // Stores that keep an MD5 report it, and it must be the content's; the others report none.
        if (info?.md5) assert.deepEqual(info.md5, createHash("md5").update("hello, remote world\n").digest());
        const whole = await readAll(provider, url);
        assert.equal(whole.data.toString(), "hello, remote world\n");
        assert.equal(whole.resumed, false);
        assert.equal(whole.size, 20);
        const tail = await readAll(provider, url, 7);
        assert.equal(tail.data.toString(), "remote world\n");
        assert.equal(tail.resumed, true);
        assert.equal(tail.size, 20, "size is the whole object's, also from an offset");
      });
    });

    it("writes an object, creating the parent directories, from a stream", async () => {
      const f = fixture();
      await withProvider(f.scheme, f.env, async (provider) => {
        const url = child(f.newDirectoryUrl(), "outputs/deep/er/result.bin");
        const data = randomBytes(300 * 1024 + 7);
        await provider.write(url, Readable.from(chunks(data, 64 * 1024)), { size: data.length });
        assert.deepEqual(await f.fetch(url), data);
        assert.equal((await provider.stat(url, {}))?.size, data.length);
      });
    });

    it("writes an empty object", async () => {
      const f = fixture();
      await withProvider(f.scheme, f.env, async (provider) => {
        const url = child(f.newDirectoryUrl(), "empty.txt");
        await provider.write(url, Readable.from([]), { size: 0 });
        assert.deepEqual(await f.fetch(url), Buffer.alloc(0));
      });
    });

    it("lists every object under a directory with its relative path and size, and reads each back", async () => {
      const f = fixture();
      await withProvider(f.scheme, f.env, async (provider) => {
        const dir = f.newDirectoryUrl();
        const files: Record<string, Buffer> = {
          "a.txt": Buffer.from("alpha"),
          "sub/b.txt": Buffer.from("bravo!"),
          "sub/deeper/c with space.txt": Buffer.from("charlie, spaced"),
        };
        for (const [path, data] of Object.entries(files)) await f.seed(child(child(dir, "tree"), encodePath(path)), data);
        await f.seed(child(dir, "tree-sibling.txt"), Buffer.from("not in the tree"));
        const listed = [];
        for await (const entry of provider.list(child(dir, "tree"), {})) listed.push(entry);
        listed.sort((a, b) => a.relativePath.localeCompare(b.relativePath));
        assert.deepEqual(
          listed.map((entry) => [entry.relativePath, entry.size]),
          Object.entries(files)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([path, data]) => [path, data.length]),
        );
        for (const entry of listed) assert.deepEqual((await readAll(provider, entry.url)).data, files[entry.relativePath]);
      });
    });

    it("writes the files a wildcard output matched, each under its path without the prefix, and lists them", async () => {
      const f = fixture();
      await withProvider(f.scheme, f.env, async (provider) => {
        // What the engine does for an output path "/outputs/*.vcf" with path_prefix "/outputs/".
        const dir = child(f.newDirectoryUrl(), "wildcard");
        const matched: Record<string, Buffer> = { "s1.vcf": randomBytes(1000), "s2.vcf": randomBytes(2000), "nested/s3.vcf": randomBytes(10) };
        for (const [path, data] of Object.entries(matched)) await provider.write(child(dir, path), Readable.from([data]), { size: data.length });
        for (const [path, data] of Object.entries(matched)) assert.deepEqual(await f.fetch(child(dir, path)), data);
        const listed = [];
        for await (const entry of provider.list(dir, {})) listed.push([entry.relativePath, entry.size]);
        listed.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
        assert.deepEqual(listed, [
          ["nested/s3.vcf", 10],
          ["s1.vcf", 1000],
          ["s2.vcf", 2000],
        ]);
      });
    });

    it("tells a missing object apart: stat gives undefined, read fails as not-found naming the URL", async () => {
      const f = fixture();
      await withProvider(f.scheme, f.env, async (provider) => {
        const url = child(f.newDirectoryUrl(), "no/such/object.txt");
        assert.equal(await provider.stat(url, {}), undefined);
        const error = await rejectsWithKind(provider.read(url, {}), "not-found");
        assert.match(error.message, new RegExp(escapeRegExp(url.pathname.split("/").pop() as string)));
      });
    });

    it("refuses wrong credentials as access-denied, without printing them", async () => {
      const f = fixture();
      const url = child(f.newDirectoryUrl(), "secret.txt");
      await f.seed(url, Buffer.from("top secret"));
      await withProvider(f.scheme, f.badCredentials.env, async (provider) => {
        const error = await rejectsWithKind(readAll(provider, url), "access-denied");
        assert.ok(!error.message.includes(f.badCredentials.secret), `the secret leaked: ${error.message}`);
        const writeError = await rejectsWithKind(provider.write(child(url, "../written.txt"), Readable.from([Buffer.from("x")]), { size: 1 }), "access-denied");
        assert.ok(!writeError.message.includes(f.badCredentials.secret));
      });
    });
  });
}

export function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
