import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "./temp-dir.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const AZURITE_BLOB = path.join(REPO, "node_modules", ".bin", "azurite-blob");

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** "127.0.0.1:PORT" */
  host: string;
  port: number;
  /** Account endpoint: http(s)://127.0.0.1:PORT/devstoreaccount1 */
  endpoint: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Serve HTTPS with this PEM certificate and key (see selfSignedCertificate in tls-certificate.ts). */
  tls?: { certFile: string; keyFile: string };
  /** Accept Entra ID bearer tokens (`--oauth basic`: issuer, audience and expiry checked, not the signature). Needs tls. */
  oauth?: boolean;
}

/**
 * Starts Azurite's blob service on a free loopback port, with its data in a temp dir, and waits
 * until it answers. Fails (never skips) when Azurite cannot start.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const extra = [
    ...(options.tls ? ["--cert", options.tls.certFile, "--key", options.tls.keyFile] : []),
    ...(options.oauth ? ["--oauth", "basic"] : []),
  ];
  const data = await makeTempDir("azurite");
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [AZURITE_BLOB, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", data.path, "--blobHost", "127.0.0.1", "--blobPort", String(port), ...extra],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitForPort(port, child, () => stderr);
      const stop = async (): Promise<void> => {
        await kill(child);
        await data.remove();
      };
      const scheme = options.tls ? "https" : "http";
      return { host: `127.0.0.1:${port}`, port, endpoint: `${scheme}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`, stop };
    } catch (error) {
      lastError = error;
      await kill(child);
    }
  }
  await data.remove();
  throw new Error(`Azurite did not start: ${String(lastError)}`);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`azurite-blob exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`azurite-blob did not listen on ${port} within 30 s: ${stderr()}`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 5000).unref();
  });
}
