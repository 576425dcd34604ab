import path from "node:path";
import { fileURLToPath } from "node:url";
import { startOnFreePort, stopProcess } from "./server-process.js";
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
  try {
    const server = await startOnFreePort(
      process.execPath,
      (port) => [AZURITE_BLOB, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", data.path, "--blobHost", "127.0.0.1", "--blobPort", String(port), ...extra],
      { readyTimeoutInMs: 30_000 },
    );
    const stop = async (): Promise<void> => {
      await stopProcess(server.child);
      await data.remove();
    };
    const scheme = options.tls ? "https" : "http";
    return { host: `127.0.0.1:${server.port}`, port: server.port, endpoint: `${scheme}://127.0.0.1:${server.port}/${AZURITE_ACCOUNT}`, stop };
  } catch (error) {
    await data.remove();
    throw new Error(`Azurite did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
}
