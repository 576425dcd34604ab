import type { ProviderContext, ProviderFactory } from "../provider-registry.js";
import type { StorageProvider } from "../storage-provider.js";
import { LazyProvider } from "./lazy-provider.js";
import { loadFtpsConfig, loadGcsConfig, loadS3Config, loadSftpConfig } from "./remote-provider-config.js";

/**
 * The SFTP, FTPS, S3 and GCS providers. Settings are read from the run's environment at once (a
 * bad one fails the run before anything moves); each client library loads on first use.
 */
export const remoteProviderFactories: readonly ProviderFactory[] = [
  (context) => {
    const config = loadSftpConfig(context.env);
    return new LazyProvider(["sftp"], async () => new (await import("./sftp-provider.js")).SftpProvider(config, context.addressPolicy));
  },
  (context) => {
    const config = loadFtpsConfig(context.env);
    return new LazyProvider(["ftps"], async () => new (await import("./ftps-provider.js")).FtpsProvider(config, context.addressPolicy));
  },
  (context) => {
    const config = loadS3Config(context.env);
    return new LazyProvider(["s3"], async () => new (await import("./s3-provider.js")).S3Provider(config, context.addressPolicy));
  },
  (context) => {
    const config = loadGcsConfig(context.env);
    return new LazyProvider(["gs"], async () => new (await import("./gcs-provider.js")).GcsProvider(config, context.addressPolicy));
  },
];

export function remoteProviders(context: ProviderContext): StorageProvider[] {
  return remoteProviderFactories.map((create) => create(context));
}
