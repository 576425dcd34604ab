/** The filetransfer library: run a manifest's downloads or uploads, or plug in a storage provider. */
export { runTransfers, type TransferDirection } from "./run-transfers.js";
export type { FileType, Manifest, ManifestInput, ManifestOutput, TransferRecord, TransferReport } from "./manifest.js";
export { ManifestError, parseManifest } from "./manifest-validation.js";
export type { AzureBlobOptions, TransferOptions } from "./transfer-options.js";
export type { TransferProgress } from "./transfer-progress.js";
export type {
  ListedObject,
  ObjectInfo,
  ProviderCallOptions,
  ReadOptions,
  ReadResult,
  StorageProvider,
  WriteOptions,
} from "./storage-provider.js";
export { ProviderError, type ProviderErrorKind } from "./provider-error.js";
export { ProviderRegistry, type ProviderContext, type ProviderFactory } from "./provider-registry.js";
export { AddressPolicy, DEFAULT_BLOCKED_SUBNETS, type AddressPolicyOptions } from "./address-policy.js";
export { redactText, redactUrl } from "./redact.js";
