import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import type { TokenCredential } from "@azure/identity";
import { AzureIdentityCredentialAdapter, type ServiceClientCredentials } from "@azure/ms-rest-js";
import { loadAzureBatchConfig, type AzureBatchConfig } from "../../../src/config/azure-batch.js";
import type { Env } from "../../../src/config/env-reader.js";
import { ArmPools, type ArmClientOptions } from "./arm-pools.js";
import { AzureBatchBackend } from "./azure-batch-backend.js";
import { TaskDocuments } from "./task-documents.js";

/**
 * The Batch scope. A TokenCredential handed straight to BatchServiceClient would ask for
 * management.azure.com, the wrong audience (shared/notes/AZURE-BATCH.md §1 "SDK trap").
 */
export const BATCH_SCOPE = "https://batch.core.windows.net//.default";

/**
 * SharedKey when AZURE_BATCH_ACCOUNT_KEY is set; otherwise Microsoft Entra ID: the given credential,
 * else DefaultAzureCredential (managed identity, workload identity, a service principal from AZURE_*
 * variables, or a developer login), always asked for the Batch scope.
 */
export async function batchCredentials(config: AzureBatchConfig, credential?: TokenCredential): Promise<ServiceClientCredentials> {
  if (config.accountKey !== undefined) return new BatchSharedKeyCredentials(config.accountName, config.accountKey);
  const entra = credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
  return new AzureIdentityCredentialAdapter(entra, BATCH_SCOPE);
}

export function batchClient(config: AzureBatchConfig, credentials: ServiceClientCredentials): BatchServiceClient {
  // Retries are the backend's own (batch-call-gate.ts): the SDK's never retry a 429.
  return new BatchServiceClient(credentials, config.accountUrl, { noRetryPolicy: true });
}

/** TES_BACKEND=azure-batch: the backend from its settings in the environment. */
export async function createAzureBatchBackend(env: Env, options: { credential?: TokenCredential; armClientOptions?: ArmClientOptions } = {}): Promise<AzureBatchBackend> {
  const config = loadAzureBatchConfig(env);
  // ARM takes Microsoft Entra ID only (never the account key), asked for the ARM scope (AZURE_BATCH_ARM_SCOPE).
  const armPools =
    config.arm === undefined ? undefined : new ArmPools(config.arm, config, options.credential ?? new (await import("@azure/identity")).DefaultAzureCredential(), options.armClientOptions);
  let documents: TaskDocuments | undefined;
  if (config.taskDocuments !== undefined) {
    // Without a storage key, the same Entra identity as for Batch, asking Storage for a user delegation key.
    const credential = config.taskDocuments.accountKey !== undefined ? undefined : (options.credential ?? new (await import("@azure/identity")).DefaultAzureCredential());
    documents = new TaskDocuments(config.taskDocuments, credential);
  }
  return new AzureBatchBackend(batchClient(config, await batchCredentials(config, options.credential)), config, documents, { armPools });
}
