import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Redis, type RedisOptions } from "ioredis";
import { loadQueueConfig } from "../config/queue.js";
import { resolveRedis, RedisUnavailableError } from "./resolve-redis.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A loopback port where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function ping(options: RedisOptions): Promise<string> {
  const client = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    return await client.ping();
  } finally {
    client.disconnect();
  }
}

describe("resolveRedis (the embedded default)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-redis-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("uses REDIS_URL when it is set and answers", async () => {
    const redis = await resolveRedis(loadQueueConfig({ REDIS_URL }));
    assert.equal(redis.source, "url");
    assert.equal(await ping(redis.address.options), "PONG");
    await redis.close();
  });

  test("fails with one sentence, without the password, when REDIS_URL does not answer", async () => {
    const port = await closedPort();
    const config = loadQueueConfig({ REDIS_URL: `redis://user:s3cret-pw@127.0.0.1:${port}/2` });
    await assert.rejects(resolveRedis(config, { urlTimeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof RedisUnavailableError);
      assert.match(error.message, new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${port}/2 \\(REDIS_URL\\) did not answer`));
      assert.doesNotMatch(error.message, /s3cret|user:/);
      assert.equal(error.message.split("\n").length, 1);
      return true;
    });
  });

  test("uses the default address when REDIS_URL is unset and something answers there", async () => {
    const url = new URL(REDIS_URL);
    const redis = await resolveRedis(loadQueueConfig({}), {
      defaultHost: url.hostname,
      defaultPort: Number(url.port || 6379),
      pathList: "",
    });
    assert.equal(redis.source, "default");
    await redis.close();
  });

  test("starts a redis-server from PATH with its data in TES_DATA_DIR, shares it, and stops it on close", async () => {
    const bin = join(dir, "bin");
    await import("node:fs/promises").then((fs) => fs.mkdir(bin));
    await symlink("/usr/bin/redis-server", join(bin, "redis-server"));
    const dataDir = join(dir, "data");
    const config = loadQueueConfig({ TES_DATA_DIR: dataDir });
    const options = { defaultPort: await closedPort(), pathList: bin };

    const redis = await resolveRedis(config, options);
    assert.equal(redis.source, "embedded");
    assert.equal(await ping(redis.address.options), "PONG");
    const port = Number((await readFile(join(dataDir, "redis", "port"), "utf8")).trim());
    assert.equal(redis.address.options.port, port);
    assert.ok((await stat(join(dataDir, "redis", "redis.log"))).isFile());

    // A second process on the same data directory joins it rather than starting another.
    const second = await resolveRedis(config, options);
    assert.equal(second.address.options.port, port);
    await second.close();
    assert.equal(await ping(redis.address.options), "PONG");

    await redis.close();
    await assert.rejects(ping(redis.address.options));
    await assert.rejects(stat(join(dataDir, "redis", "port")));
  });

  test("a process that exits without closing still stops the redis-server it started", async () => {
    const bin = await mkdtemp(join(dir, "exit-bin-"));
    await symlink("/usr/bin/redis-server", join(bin, "redis-server"));
    const dataDir = join(dir, "exit-data");
    const here = fileURLToPath(new URL(".", import.meta.url));
    const script = `
      const { resolveRedis } = await import(${JSON.stringify(join(here, "resolve-redis.ts"))});
      const { loadQueueConfig } = await import(${JSON.stringify(join(here, "..", "config", "queue.ts"))});
      const redis = await resolveRedis(loadQueueConfig({ TES_DATA_DIR: ${JSON.stringify(dataDir)} }), {
        defaultPort: ${await closedPort()}, pathList: ${JSON.stringify(bin)} });
      console.log(redis.source + " " + redis.address.options.port);
      process.exit(0);`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    const [source, port] = child.stdout.trim().split(" ");
    assert.equal(source, "embedded");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assert.rejects(ping({ host: "127.0.0.1", port: Number(port) }));
  });

  test("fails with one sentence saying how to get Redis when none can be had", async () => {
    const emptyBin = await mkdtemp(join(dir, "empty-"));
    const config = loadQueueConfig({ TES_DATA_DIR: join(dir, "unused") });
    const defaultPort = await closedPort();
    await assert.rejects(resolveRedis(config, { defaultPort, pathList: emptyBin }), (error: unknown) => {
      assert.ok(error instanceof RedisUnavailableError);
      assert.equal(
        error.message,
        `No Redis found: REDIS_URL is unset, nothing answers at redis://127.0.0.1:${defaultPort} and there is no redis-server on PATH; install Redis (for example \`apt-get install redis-server\`) or set REDIS_URL to a running Redis.`,
      );
      return true;
    });
  });

  test("says so when the redis-server on PATH fails to start", async () => {
    const bin = await mkdtemp(join(dir, "broken-"));
    await writeFile(join(bin, "redis-server"), "#!/bin/sh\necho 'FATAL: broken install' >&2\nexit 3\n");
    await chmod(join(bin, "redis-server"), 0o755);
    const config = loadQueueConfig({ TES_DATA_DIR: join(dir, "broken-data") });
    await assert.rejects(resolveRedis(config, { defaultPort: await closedPort(), pathList: bin }), (error: unknown) => {
      assert.ok(error instanceof RedisUnavailableError);
      assert.match(error.message, /failed to start \(it exited with code 3: FATAL: broken install\)/);
      return true;
    });
  });
});
