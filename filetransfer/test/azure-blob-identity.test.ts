import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from "./support/azurite.js";
import { startManagedIdentityEndpoint, type ManagedIdentityEndpoint } from "./support/managed-identity-endpoint.js";
import { runCli } from "./support/run-cli.js";
import { makeTempDir } from "./support/temp-dir.js";
import { selfSignedCertificate } from "./support/tls-certificate.js";

/**
 * az:// URLs with Entra ID: the real DefaultAzureCredential chain, finding a managed identity
 * through the App Service token protocol, against Azurite over HTTPS with `--oauth basic`.
 */
describe("Azure Blob with a managed identity: Azurite over HTTPS with OAuth", () => {
  let work: { path: string; remove: () => Promise<void> };
  let azurite: Azurite;
  let identity: ManagedIdentityEndpoint;
  let common: Record<string, string>;

  before(async () => {
    work = await makeTempDir("azure-identity");
    const tls = await selfSignedCertificate(work.path);
    azurite = await startAzurite({ tls, oauth: true });
    identity = await startManagedIdentityEndpoint();
    common = {
      NODE_EXTRA_CA_CERTS: tls.certFile,
      FILETRANSFER_AZURE_BLOB_ENDPOINT: `https://${azurite.host}/{account}`,
      FILETRANSFER_RETRY_DELAY_MS: "10",
      AZURE_STORAGE_KEY: "",
      AZURE_CLIENT_ID: "",
      AZURE_TENANT_ID: "",
      AZURE_CLIENT_SECRET: "",
    };
    // The container is made with the shared key, as an administrator would.
    const root = path.join(work.path, "seed");
    await mkdir(path.join(root, "seed"), { recursive: true });
    await writeFile(path.join(root, "seed/hello.txt"), "hello from the identity test\n");
  });
  after(async () => {
    await identity?.close();
    await azurite?.stop();
    await work?.remove();
  });

  it("uploads and downloads az:// URLs with a token from the node's managed identity", async () => {
    const { BlobServiceClient, StorageSharedKeyCredential } = await import("@azure/storage-blob");
    const https = await import("node:https");
    const ca = await readFile(path.join(work.path, "cert.pem"));
    const admin = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY), {
      agent: new https.Agent({ ca }),
    } as ConstructorParameters<typeof BlobServiceClient>[2]);
    await admin.getContainerClient("identity").create();

    const root = path.join(work.path, "seed");
    const withIdentity = { ...common, IDENTITY_ENDPOINT: identity.url, IDENTITY_HEADER: identity.header };
    const up = await runCli("upload", { root, outputs: [{ url: `az://${AZURITE_ACCOUNT}/identity/run/hello.txt`, path: "/seed/hello.txt" }] }, work.path, { env: withIdentity });
    assert.equal(up.code, 0, up.stderr);
    const down = await runCli("download", { root, inputs: [{ url: `az://${AZURITE_ACCOUNT}/identity/run`, path: "/back", type: "DIRECTORY" }] }, work.path, { env: withIdentity });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await readFile(path.join(root, "back/hello.txt"), "utf8"), "hello from the identity test\n");
    assert.ok(identity.requests.length >= 1 && identity.requests.every((resource) => resource === "https://storage.azure.com"), identity.requests.join(","));
    assert.equal((await admin.getContainerClient("identity").getBlobClient("run/hello.txt").downloadToBuffer()).toString(), "hello from the identity test\n");
  });

  it("uses the managed identity for https blob URLs without a SAS, when so configured", async () => {
    const root = path.join(work.path, "seed");
    const plainUrl = `${azurite.endpoint}/identity/run/hello.txt`;
    const withIdentity = { ...common, IDENTITY_ENDPOINT: identity.url, IDENTITY_HEADER: identity.header, FILETRANSFER_AZURE_BLOB_PATH_STYLE_HOSTS: azurite.host };
    const anonymous = await runCli("download", { root, inputs: [{ url: plainUrl, path: "/anon.txt" }] }, work.path, { env: withIdentity });
    assert.equal(anonymous.code, 1, "without the setting, a URL without a SAS is read anonymously, and the private container refuses it");
    assert.match(anonymous.report?.files[0]?.error ?? "", /: 40[134] /);
    const run = await runCli("download", { root, inputs: [{ url: plainUrl, path: "/plain.txt" }] }, work.path, {
      env: { ...withIdentity, FILETRANSFER_AZURE_IDENTITY_WITHOUT_SAS: "true" },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await readFile(path.join(root, "plain.txt"), "utf8"), "hello from the identity test\n");
  });

  it("fails clearly, without retrying, when the managed identity gives no token", async () => {
    // The wrong IDENTITY_HEADER: the identity endpoint answers 401, so DefaultAzureCredential has no token to give.
    const root = path.join(work.path, "seed");
    const run = await runCli("download", { root, inputs: [{ url: `az://${AZURITE_ACCOUNT}/identity/run/hello.txt`, path: "/denied.txt" }] }, work.path, {
      env: { ...common, IDENTITY_ENDPOINT: identity.url, IDENTITY_HEADER: "wrong-header" },
    });
    assert.equal(run.code, 1);
    assert.match(run.report?.files[0]?.error ?? "", /could not get an Entra ID token for az:\/\/ URLs/);
  });
});
