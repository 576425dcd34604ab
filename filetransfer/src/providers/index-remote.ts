import type { ProviderContext, ProviderFactory } from "../provider-registry.js";
import type { StorageProvider } from "../storage-provider.js";
import { FtpsProvider } from "./ftps-provider.js";
import { GcsProvider } from "./gcs-provider.js";
import { loadFtpsConfig, loadGcsConfig, loadS3Config, loadSftpConfig } from "./remote-provider-config.js";
import { S3Provider } from "./s3-provider.js";
import { SftpProvider } from "./sftp-provider.js";

/** The SFTP, FTPS, S3 and GCS providers, each configured from the run's environment. */
export const remoteProviderFactories: readonly ProviderFactory[] = [
  (context) => new SftpProvider(loadSftpConfig(context.env), context.addressPolicy),
  (context) => new FtpsProvider(loadFtpsConfig(context.env), context.addressPolicy),
  (context) => new S3Provider(loadS3Config(context.env), context.addressPolicy),
  (context) => new GcsProvider(loadGcsConfig(context.env), context.addressPolicy),
];

export function remoteProviders(context: ProviderContext): StorageProvider[] {
  return remoteProviderFactories.map((create) => create(context));
}
