import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BlobServiceClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from "../../filetransfer/test/support/azurite.js";
import { startBatchEmulator, type BatchEmulator } from "../emulators/batch/batch-emulator.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Azure on loopback for the Azure Batch backend end to end: the Batch emulator, whose nodes run
 * the real node-side runner (bwrap instead of docker) and reach Azurite for blobs, and a web
 * server for inputs over HTTP.
 */
export interface AzureBatchStandIn {
  readonly azurite: Azurite;
  readonly emulator: BatchEmulator;
  /** The blob container "tes", for a test's inputs and outputs. */
  readonly container: ContainerClient;
  /** A SAS for "tes" that reads, adds, creates, writes and lists for an hour. */
  readonly sas: string;
  /** http://127.0.0.1:PORT, serving /words.txt ("apple\nbanana\n"). */
  readonly httpUrl: string;
  /** The backend's settings (AZURE_BATCH_*) for this emulator, the real runner and task documents in Azurite. */
  readonly backendEnv: Record<string, string>;
  stop(): Promise<void>;
}

export async function startAzureBatchStandIn(): Promise<AzureBatchStandIn> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.splice(0).reverse()) await stopOne();
  };
  try {
    const http = createServer((req, res) => {
      if (req.url === "/words.txt") res.end("apple\nbanana\n");
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    stops.push(() => new Promise((resolve) => http.close(() => resolve())));
    const httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

    const azurite = await startAzurite();
    stops.push(() => azurite.stop());
    const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    const container = new BlobServiceClient(azurite.endpoint, credential).getContainerClient("tes");
    await container.create();
    const sas = generateBlobSASQueryParameters(
      { containerName: "tes", permissions: ContainerSASPermissions.parse("racwl"), expiresOn: new Date(Date.now() + 3_600_000) },
      credential,
    ).toString();

    const emulator = await startBatchEmulator({
      timing: { autoScaleSampleIntervalMs: 100, autoScaleEvaluationEveryMs: 200 },
      // The node's environment: filetransfer reaches Azurite path-style, as the runner's tests do.
      baseEnv: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        LANG: "C.UTF-8",
        HOME: tmpdir(),
        TMPDIR: tmpdir(),
        FILETRANSFER_AZURE_BLOB_PATH_STYLE_HOSTS: azurite.host,
        FILETRANSFER_AZURE_BLOB_ENDPOINT: `http://${azurite.host}/{account}`,
      },
    });
    stops.push(() => emulator.stop());

    const backendEnv = {
      AZURE_BATCH_ACCOUNT_URL: emulator.url,
      AZURE_BATCH_ACCOUNT_NAME: emulator.accountName,
      AZURE_BATCH_ACCOUNT_KEY: emulator.accountKey,
      AZURE_BATCH_RUNNER: `${join(REPO, "node_modules/.bin/tsx")} ${join(REPO, "worker/runner/cli.ts")}`,
      AZURE_BATCH_CONTAINER_RUNTIME: "bwrap",
      AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: "1",
      AZURE_BATCH_LIST_INTERVAL_MS: "0",
      AZURE_BATCH_MAX_RETRY_DELAY_MS: "200",
      AZURE_BATCH_TASK_DOCUMENTS_URL: `http://${azurite.host}/${AZURITE_ACCOUNT}/tes-batch-tasks`,
      AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: AZURITE_KEY,
    };
    return { azurite, emulator, container, sas, httpUrl, backendEnv, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
