import { lazyProvider } from "../lazy-provider.js";
import { ProviderRegistry, type ProviderContext } from "../provider-registry.js";
import type { ResolvedTransferOptions } from "../transfer-options.js";
import { isBlobHttpUrl } from "./azure-blob-url.js";
import { FileProvider } from "./file-provider.js";
import { HttpProvider } from "./http-provider.js";

/**
 * The registry every run starts from: one provider per storage kind filetransfer ships. SDK-backed
 * providers load on first use. Azure Blob claims az:// and blob-endpoint http(s) URLs through
 * handles(); the plain HTTP provider takes the other http(s) URLs.
 */
export function createBuiltinRegistry(context: ProviderContext, settings: ResolvedTransferOptions): ProviderRegistry {
  const blobUrls = { endpointTemplate: settings.azureBlob.endpointTemplate ?? "", pathStyleHosts: settings.azureBlob.pathStyleHosts ?? [] };
  return new ProviderRegistry()
    .register(new FileProvider(settings.allowedDirs))
    .register(new HttpProvider(context.addressPolicy, { maxRedirects: settings.httpMaxRedirects, idleTimeoutInMs: settings.httpIdleTimeoutInMs }))
    .register(
      lazyProvider({
        schemes: ["az", "https", "http"],
        handles: (url) => url.protocol === "az:" || isBlobHttpUrl(url, blobUrls),
        load: async () => new (await import("./azure-blob-provider.js")).AzureBlobProvider(context.addressPolicy, settings.azureBlob),
      }),
    );
}
