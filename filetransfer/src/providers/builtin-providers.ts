import { ProviderRegistry, type ProviderContext } from "../provider-registry.js";
import type { ResolvedTransferOptions } from "../transfer-options.js";
import { FileProvider } from "./file-provider.js";
import { HttpProvider } from "./http-provider.js";

/** The registry every run starts from: one provider per storage kind filetransfer ships. */
export function createBuiltinRegistry(context: ProviderContext, settings: ResolvedTransferOptions): ProviderRegistry {
  return new ProviderRegistry()
    .register(new FileProvider(settings.allowedDirs))
    .register(new HttpProvider(context.addressPolicy, { maxRedirects: settings.httpMaxRedirects, idleTimeoutInMs: settings.httpIdleTimeoutInMs }));
}
