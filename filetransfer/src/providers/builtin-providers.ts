import { lazyProvider } from "../lazy-provider.js";
import { ProviderRegistry, type ProviderContext } from "../provider-registry.js";
import type { ResolvedTransferOptions } from "../transfer-options.js";
import { isBlobHttpUrl } from "./azure-blob-url.js";
import { FileProvider } from "./file-provider.js";
import { HttpProvider } from "./http-provider.js";

/**
 * The registry every run starts from: one provider per storage kind filetransfer ships. SDK-backed
 * providers load on first use, so a run that only moves HTTP files never loads an SDK. Azure Blob
 * claims az:// and blob-endpoint http(s) URLs through handles(); plain HTTP takes the others.
 */
export function createBuiltinRegistry(context: ProviderContext, settings: ResolvedTransferOptions): ProviderRegistry {
  const blobUrls = { endpointTemplate: settings.azureBlob.endpointTemplate ?? "", pathStyleHosts: settings.azureBlob.pathStyleHosts ?? [] };
  const { env, addressPolicy } = context;
  return new ProviderRegistry()
    .register(new FileProvider(settings.allowedDirs))
    .register(new HttpProvider(addressPolicy, { maxRedirects: settings.httpMaxRedirects, idleTimeoutInMs: settings.idleTimeoutInMs }))
    .register(
      lazyProvider({
        schemes: ["az", "https", "http"],
        handles: (url) => url.protocol === "az:" || isBlobHttpUrl(url, blobUrls),
        load: async () => new (await import("./azure-blob-provider.js")).AzureBlobProvider(addressPolicy, settings.azureBlob),
      }),
    )
    .register(
      lazyProvider({
        schemes: ["sftp"],
        load: async () => new (await import("./sftp-provider.js")).SftpProvider((await import("./remote-provider-config.js")).loadSftpConfig(env), addressPolicy),
      }),
    )
    .register(
      lazyProvider({
        schemes: ["ftps"],
        load: async () => new (await import("./ftps-provider.js")).FtpsProvider((await import("./remote-provider-config.js")).loadFtpsConfig(env), addressPolicy),
      }),
    )
    .register(
      lazyProvider({
        schemes: ["s3"],
        load: async () => new (await import("./s3-provider.js")).S3Provider((await import("./remote-provider-config.js")).loadS3Config(env), addressPolicy),
      }),
    )
    .register(
      lazyProvider({
        schemes: ["gs"],
        load: async () => new (await import("./gcs-provider.js")).GcsProvider((await import("./remote-provider-config.js")).loadGcsConfig(env), addressPolicy),
      }),
    );
}
