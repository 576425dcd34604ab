import type { ContainerRegistryConfig } from "./azure-batch-registries.js";
import { USER_ASSIGNED_IDENTITY } from "./azure-batch-registries.js";
import { ConfigError, type EnvReader } from "./env-reader.js";

/**
 * Where the Batch account sits in Azure Resource Manager. With it, the Azure Batch backend creates
 * its pools through ARM (Microsoft.Batch/batchAccounts/pools), the only way to attach user-assigned
 * identities to a pool (shared/notes/AZURE-BATCH.md §5 "Identity for ACR"); everything else stays
 * on the Batch data plane. ARM takes Microsoft Entra ID only, never the account's shared key.
 */
export interface AzureBatchArmConfig {
  /** AZURE_BATCH_SUBSCRIPTION_ID: the subscription holding the Batch account (a GUID). */
  subscriptionId: string;
  /** AZURE_BATCH_RESOURCE_GROUP: the resource group holding the Batch account. */
  resourceGroup: string;
  /** AZURE_BATCH_ARM_ENDPOINT: https only (Azure SDKs send bearer tokens over TLS alone). Default https://management.azure.com. */
  endpoint: string;
  /** AZURE_BATCH_ARM_SCOPE: the token scope for that endpoint. Default https://management.azure.com/.default. */
  scope: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Resource group names: 1–90 letters, digits, _ - . ( ), not ending in a period. */
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;

export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";
export const DEFAULT_ARM_SCOPE = "https://management.azure.com/.default";

/** The ARM coordinates, when AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP are set (both or neither). */
export function parseArmCoordinates(read: EnvReader): AzureBatchArmConfig | undefined {
  const subscriptionId = read.optionalString("AZURE_BATCH_SUBSCRIPTION_ID");
  const resourceGroup = read.optionalString("AZURE_BATCH_RESOURCE_GROUP");
  if (subscriptionId === undefined && resourceGroup === undefined) {
    for (const name of ["AZURE_BATCH_ARM_ENDPOINT", "AZURE_BATCH_ARM_SCOPE"]) {
      if (read.optionalString(name) !== undefined) throw new ConfigError(`${name} needs AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP (pools are created through ARM only with both)`);
    }
    return undefined;
  }
  if (subscriptionId === undefined || resourceGroup === undefined) {
    throw new ConfigError("AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP go together: set both (the Batch account's subscription and resource group) to create pools through ARM, or neither");
  }
  if (!GUID.test(subscriptionId)) throw new ConfigError("AZURE_BATCH_SUBSCRIPTION_ID must be a subscription id (a GUID)");
  if (!RESOURCE_GROUP.test(resourceGroup)) throw new ConfigError("AZURE_BATCH_RESOURCE_GROUP must be 1 to 90 letters, digits, _ - . ( ), not ending in a period");
  const endpoint = read.optionalUrl("AZURE_BATCH_ARM_ENDPOINT") ?? new URL(DEFAULT_ARM_ENDPOINT);
  if (endpoint.protocol !== "https:") throw new ConfigError("AZURE_BATCH_ARM_ENDPOINT must be an https URL: the Azure SDK sends bearer tokens over TLS only");
  if (endpoint.search !== "" || endpoint.username !== "" || endpoint.password !== "" || (endpoint.pathname !== "/" && endpoint.pathname !== "")) {
    throw new ConfigError("AZURE_BATCH_ARM_ENDPOINT must be a bare https://host[:port] URL");
  }
  const scope = read.string("AZURE_BATCH_ARM_SCOPE", DEFAULT_ARM_SCOPE);
  if (!/^https:\/\/[^\s]+\/\.default$/.test(scope)) throw new ConfigError("AZURE_BATCH_ARM_SCOPE must be a resource's .default scope, such as https://management.usgovcloudapi.net/.default");
  return { subscriptionId, resourceGroup, endpoint: endpoint.origin, scope };
}

/** AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID: a user-assigned identity attached to every pool (for the node's own use). */
export function parseNodeIdentity(read: EnvReader): string | undefined {
  const id = read.optionalString("AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID");
  if (id !== undefined && !USER_ASSIGNED_IDENTITY.test(id)) {
    throw new ConfigError("AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID must be a user-assigned identity's resource id (/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…)");
  }
  return id;
}

/** Identities reach a pool only through ARM: without the coordinates, a setting that needs one is refused, naming what to set. */
export function requireArmForIdentities(arm: AzureBatchArmConfig | undefined, registries: readonly ContainerRegistryConfig[], nodeIdentity: string | undefined): void {
  if (arm !== undefined) return;
  const needs = "an identity is attached to a pool only through Azure Resource Manager: set AZURE_BATCH_SUBSCRIPTION_ID and AZURE_BATCH_RESOURCE_GROUP (the Batch account's) so that pools are created through ARM";
  const index = registries.findIndex((registry) => registry.identityResourceId !== undefined);
  if (index >= 0) throw new ConfigError(`AZURE_BATCH_CONTAINER_REGISTRIES[${index}] signs in with identityResourceId, but ${needs}`);
  if (nodeIdentity !== undefined) throw new ConfigError(`AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID is set, but ${needs}`);
}
