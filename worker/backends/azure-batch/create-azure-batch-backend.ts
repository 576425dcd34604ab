import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { AzureIdentityCredentialAdapter, type ServiceClientCredentials } from "@azure/ms-rest-js";
import { loadAzureBatchConfig, type AzureBatchConfig } from "../../../src/config/azure-batch.js";
import type { Env } from "../../../src/config/env-reader.js";
import { AzureBatchBackend } from "./azure-batch-backend.js";

/**
 * The Batch scope. A TokenCredential handed straight to BatchServiceClient would ask for
 * management.azure.com, the wrong audience (shared/notes/AZURE-BATCH.md §1 "SDK trap").
 */
export const BATCH_SCOPE = "https://batch.core.windows.net//.default";

export async function batchCredentials(config: AzureBatchConfig): Promise<ServiceClientCredentials> {
  if (config.accountKey !== undefined) return new BatchSharedKeyCredentials(config.accountName, config.accountKey);
  // Managed identity, workload identity, a service principal from AZURE_* variables, or a developer login.
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new AzureIdentityCredentialAdapter(new DefaultAzureCredential(), BATCH_SCOPE);
}

export function batchClient(config: AzureBatchConfig, credentials: ServiceClientCredentials): BatchServiceClient {
  // Retries are the backend's own (batch-call-gate.ts): the SDK's never retry a 429.
  return new BatchServiceClient(credentials, config.accountUrl, { noRetryPolicy: true });
}

/** TES_BACKEND=azure-batch: the backend from its settings in the environment. */
export async function createAzureBatchBackend(env: Env): Promise<AzureBatchBackend> {
  const config = loadAzureBatchConfig(env);
  return new AzureBatchBackend(batchClient(config, await batchCredentials(config)), config);
}
