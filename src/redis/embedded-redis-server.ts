import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { delimiter, join, resolve } from "node:path";
import { redisAddressAt, type RedisAddress } from "./redis-address.js";
import { probeRedis, waitForRedis } from "./redis-probe.js";

/**
 * A redis-server that this process started for itself, with its files in `<dataDir>/redis`, for
 * the embedded default (a fresh clone with no Redis running). It listens on loopback only, on a
 * free port written to `<dataDir>/redis/port`, so a second process on the same data directory (the
 * worker beside `npm start`) uses the same one instead of starting another.
 */
export interface EmbeddedRedis {
  readonly address: RedisAddress;
  /** False when another process on the same data directory started it; close() then leaves it. */
  readonly owned: boolean;
  /** Stops the server (when owned) and waits for it to exit. */
  close(): Promise<void>;
}

/** The first executable `redis-server` in the PATH list, or undefined. */
export async function findOnPath(command: string, pathList: string | undefined): Promise<string | undefined> {
  for (const dir of (pathList ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

export async function startEmbeddedRedis(options: {
  executable: string;
  dataDir: string;
  startTimeoutMs: number;
}): Promise<EmbeddedRedis> {
  const dir = resolve(options.dataDir, "redis");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const portFile = join(dir, "port");

  const running = await readPortFile(portFile);
  if (running !== undefined) {
    const address = redisAddressAt("127.0.0.1", running);
    if ((await probeRedis(address.options, 1000)) === undefined) {
      return { address, owned: false, close: async () => {} };
    }
  }

  const port = await freeLoopbackPort();
  const child = spawn(
    options.executable,
    [
      "--bind", "127.0.0.1",
      "--port", String(port),
      "--dir", dir,
      "--appendonly", "yes",
      "--save", "",
      "--daemonize", "no",
      "--logfile", join(dir, "redis.log"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  const spawnError = new Promise<Error>((resolveError) => child.once("error", resolveError));
  // A server left behind by a crash is found again through the port file; a clean exit stops it.
  const stopOnExit = (): void => {
    child.kill("SIGTERM");
  };
  process.once("exit", stopOnExit);

  const gaveUp = new AbortController();
  const started = await Promise.race([
    waitForRedis(redisAddressAt("127.0.0.1", port).options, options.startTimeoutMs, gaveUp.signal).then((reason) =>
      reason === undefined ? "ok" : `it did not answer within ${options.startTimeoutMs} ms (${reason})`,
    ),
    exited.then((code) => `it exited with code ${code}${stderr === "" ? "" : `: ${stderr.trim()}`}`),
    spawnError.then((error) => `it could not be started: ${error.message}`),
  ]);
  gaveUp.abort();
  if (started !== "ok") {
    process.removeListener("exit", stopOnExit);
    await stop(child, exited);
    throw new Error(
      `The redis-server at ${options.executable} failed to start (${started}); see ${join(dir, "redis.log")}.`,
    );
  }
  await writeFile(portFile, `${port}\n`, { mode: 0o600 });

  let closing: Promise<void> | undefined;
  return {
    address: redisAddressAt("127.0.0.1", port),
    owned: true,
    close: () => {
      closing ??= (async () => {
        process.removeListener("exit", stopOnExit);
        await stop(child, exited);
        await rm(portFile, { force: true });
      })();
      return closing;
    },
  };
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function readPortFile(path: string): Promise<number | undefined> {
  try {
    const port = Number((await readFile(path, "utf8")).trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  } catch {
    return undefined;
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
