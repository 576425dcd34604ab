import { readFileSync } from "node:fs";
import { parseArmCoordinates, parseNodeIdentity, requireArmForIdentities, type AzureBatchArmConfig } from "./azure-batch-arm.js";
import { parseContainerRegistries, type ContainerRegistryConfig } from "./azure-batch-registries.js";
import { ConfigError, EnvReader, type Env } from "./env-reader.js";

export type { ContainerRegistryConfig } from "./azure-batch-registries.js";
export type { AzureBatchArmConfig } from "./azure-batch-arm.js";

/**
 * Settings of the Azure Batch compute backend (TES_BACKEND=azure-batch). Read once at start-up;
 * every bad value fails with a ConfigError naming the variable, never echoing a key.
 */
export interface AzureBatchConfig {
  /** AZURE_BATCH_ACCOUNT_URL: https://{account}.{region}.batch.azure.com. Required. */
  accountUrl: string;
  /** AZURE_BATCH_ACCOUNT_NAME: defaults to the first label of the URL's host. */
  accountName: string;
  /** AZURE_BATCH_ACCOUNT_KEY: shared key auth when set; otherwise Microsoft Entra ID (DefaultAzureCredential). */
  accountKey: string | undefined;
  /** AZURE_BATCH_POOL_PREFIX: pool (and job) ids start with it. Default "tes". */
  poolPrefix: string;
  /** AZURE_BATCH_VM_SIZES: a JSON file path or inline JSON list of VmSize entries; default a small built-in catalog. */
  vmSizes: VmSize[];
  /** AZURE_BATCH_IMAGE: publisher:offer:sku:version of the node image. */
  image: { publisher: string; offer: string; sku: string; version: string };
  /** AZURE_BATCH_NODE_AGENT_SKU. Default "batch.node.ubuntu 22.04". */
  nodeAgentSkuId: string;
  /** AZURE_BATCH_MAX_NODES_PER_POOL: the autoscale formula's ceiling. Default 10. */
  maxNodesPerPool: number;
  /** AZURE_BATCH_AUTOSCALE_INTERVAL: ISO-8601, at least PT5M at the service. Default PT5M. */
  autoScaleEvaluationInterval: string;
  /** AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS: how far back pending-task samples are averaged. Default 180. */
  autoScaleWindowSeconds: number;
  /** AZURE_BATCH_POOL_IDLE_MS: a pool with no task of ours for this long is deleted. Default 30 min. */
  poolIdleMs: number;
  /** AZURE_BATCH_RUNNER: the runner command on the node, or in the runner image. Default IMAGE_RUNNER_COMMAND with a runner image, else "$AZ_BATCH_NODE_SHARED_DIR/tes-runner". */
  runnerCommand: string;
  /** AZURE_BATCH_CONTAINER_RUNTIME: the runtime the runner uses on the node. Default docker. */
  containerRuntime: "docker" | "podman" | "bwrap";
  /**
   * AZURE_BATCH_RUNNER_IMAGE: the image holding the runner and filetransfer (production). When set,
   * pools are container-enabled (Docker on the node, the image prefetched, the registries logged in)
   * and each Batch task runs the runner in it, executors going to the node's Docker through its
   * socket. Unset: the runner runs on the node itself (AZURE_BATCH_START_TASK installs it).
   */
  runnerImage: string | undefined;
  /** AZURE_BATCH_CONTAINER_REGISTRIES: private registries (azure-batch-registries.ts); needs AZURE_BATCH_RUNNER_IMAGE. */
  containerRegistries: ContainerRegistryConfig[];
  /**
   * The Batch account in Azure Resource Manager (azure-batch-arm.ts): when set, pools are created
   * through ARM with the user-assigned identities they need; unset, through the data plane, and no
   * setting may need a pool identity.
   */
  arm: AzureBatchArmConfig | undefined;
  /** AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID: a user-assigned identity attached to every pool; needs the ARM coordinates. */
  nodeIdentityResourceId: string | undefined;
  /**
   * Where TES task documents go (task-documents.ts): a blob container, each document read by its
   * node through a short-lived read SAS. Undefined only with AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT=true
   * (development: the document then sits in the Batch task's environment, SAS URLs and all).
   */
  taskDocuments: TaskDocumentsConfig | undefined;
  /** AZURE_BATCH_START_TASK: the pool's start task command line (installs the runner); none when unset. */
  startTaskCommandLine: string | undefined;
  /** AZURE_BATCH_LIST_INTERVAL_MS: a job's tasks are listed at most this often; polls in between share the last list. Default 500. */
  listIntervalMs: number;
  /** AZURE_BATCH_MAX_CONCURRENT_CALLS: Batch calls in flight at once from one worker. Default 8. */
  maxConcurrentCalls: number;
  /** AZURE_BATCH_MAX_RETRIES: retries of a throttled (429) or failed (5xx, network) call. Default 6. */
  maxRetries: number;
  /** AZURE_BATCH_MAX_RETRY_DELAY_MS: the longest wait before a retry, Retry-After included. Default 60 s. */
  maxRetryDelayMs: number;
}

export interface TaskDocumentsConfig {
  /** From AZURE_BATCH_TASK_DOCUMENTS_URL: the blob service (https://acct.blob.core.windows.net, or path-style http://host:port/acct). */
  serviceUrl: string;
  accountName: string;
  containerName: string;
  /** AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY: the storage account key (a Key Vault reference, best); unset: Microsoft Entra ID and user delegation SAS. */
  accountKey: string | undefined;
  /** AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS: how long a document's read SAS lasts; a task not started by then fails to start. Default 12 h. */
  sasTtlSeconds: number;
}

function parseTaskDocuments(read: EnvReader): TaskDocumentsConfig | undefined {
  const url = read.optionalUrl("AZURE_BATCH_TASK_DOCUMENTS_URL");
  if (url === undefined) {
    if (read.boolean("AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT", false)) return undefined;
    throw new ConfigError(
      "AZURE_BATCH_TASK_DOCUMENTS_URL is required: the blob container (https://<account>.blob.core.windows.net/<container>) where task documents go, so their SAS URLs stay out of the Batch task (AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT=true keeps them in it, for development only)",
    );
  }
  if (url.search !== "" || url.username !== "" || url.password !== "") {
    throw new ConfigError("AZURE_BATCH_TASK_DOCUMENTS_URL must be a plain container URL, with no query (SAS) or credentials");
  }
  const segments = url.pathname.split("/").filter((part) => part !== "");
  // An IP address or localhost (Azurite) is path-style: /account/container.
  const pathStyle = /^(\d+\.){3}\d+$|^localhost$|^\[/.test(url.hostname);
  const expected = pathStyle ? 2 : 1;
  if (segments.length !== expected) {
    throw new ConfigError(`AZURE_BATCH_TASK_DOCUMENTS_URL must name one container: ${pathStyle ? "http://host:port/<account>/<container>" : "https://<account>.blob.core.windows.net/<container>"}`);
  }
  const containerName = segments[expected - 1] as string;
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(containerName)) throw new ConfigError("AZURE_BATCH_TASK_DOCUMENTS_URL: the container name must be 3–63 lower-case letters, digits and single hyphens");
  const accountName = pathStyle ? (segments[0] as string) : (url.hostname.split(".")[0] as string);
  const key = read.optionalString("AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY");
  if (key !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) throw new ConfigError("AZURE_BATCH_TASK_DOCUMENTS_ACCOUNT_KEY must be base64");
  return {
    serviceUrl: `${url.protocol}//${url.host}${pathStyle ? `/${accountName}` : ""}`,
    accountName,
    containerName,
    accountKey: key,
    sasTtlSeconds: read.integer("AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS", 12 * 3600, { min: 300, max: 6 * 24 * 3600 }),
  };
}

/** The runner's command inside the runner image (the server image built by the Dockerfile). */
export const IMAGE_RUNNER_COMMAND = "node /opt/tes/dist/worker/runner/cli.js";

export interface VmSize {
  name: string;
  cores: number;
  memoryGb: number;
  /** Local (temporary) disk. */
  diskGb: number;
  /** Price per hour, any currency, used only to compare sizes. */
  pricePerHour: number;
  /** Low-priority/spot price per hour; defaults to pricePerHour. */
  lowPriorityPricePerHour?: number;
  family?: string;
}

/** A few general-purpose sizes with list prices (USD/h, East US, 2024); replace with your own catalog. */
export const DEFAULT_VM_SIZES: VmSize[] = [
  { name: "Standard_D2s_v3", cores: 2, memoryGb: 8, diskGb: 16, pricePerHour: 0.096, lowPriorityPricePerHour: 0.0192, family: "standardDSv3Family" },
  { name: "Standard_D4s_v3", cores: 4, memoryGb: 16, diskGb: 32, pricePerHour: 0.192, lowPriorityPricePerHour: 0.0384, family: "standardDSv3Family" },
  { name: "Standard_D8s_v3", cores: 8, memoryGb: 32, diskGb: 64, pricePerHour: 0.384, lowPriorityPricePerHour: 0.0768, family: "standardDSv3Family" },
  { name: "Standard_E4s_v3", cores: 4, memoryGb: 32, diskGb: 64, pricePerHour: 0.252, lowPriorityPricePerHour: 0.0504, family: "standardESv3Family" },
  { name: "Standard_E8s_v3", cores: 8, memoryGb: 64, diskGb: 128, pricePerHour: 0.504, lowPriorityPricePerHour: 0.1008, family: "standardESv3Family" },
  { name: "Standard_D16s_v3", cores: 16, memoryGb: 64, diskGb: 128, pricePerHour: 0.768, lowPriorityPricePerHour: 0.1536, family: "standardDSv3Family" },
];

function parseVmSizes(name: string, raw: string): VmSize[] {
  let text = raw.trim();
  if (!text.startsWith("[")) {
    try {
      text = readFileSync(text, "utf8");
    } catch {
      throw new ConfigError(`${name} must be a JSON list or the path of a JSON file holding one`);
    }
  }
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name} is not valid JSON`);
  }
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${name} must be a non-empty JSON list`);
  return list.map((entry: unknown, i) => {
    const e = entry as Partial<VmSize> | null;
    const positive = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v > 0;
    if (e === null || typeof e !== "object" || typeof e.name !== "string" || !/^[A-Za-z0-9_]+$/.test(e.name)) {
      throw new ConfigError(`${name}[${i}].name must be a VM size name such as Standard_D4s_v3`);
    }
    for (const key of ["cores", "memoryGb", "diskGb", "pricePerHour"] as const) {
      if (!positive(e[key])) throw new ConfigError(`${name}[${i}].${key} must be a positive number`);
    }
    if (e.lowPriorityPricePerHour !== undefined && !positive(e.lowPriorityPricePerHour)) {
      throw new ConfigError(`${name}[${i}].lowPriorityPricePerHour must be a positive number`);
    }
    return e as VmSize;
  });
}

export function loadAzureBatchConfig(env: Env): AzureBatchConfig {
  const read = new EnvReader(env);
  const url = read.optionalUrl("AZURE_BATCH_ACCOUNT_URL");
  if (url === undefined) throw new ConfigError("AZURE_BATCH_ACCOUNT_URL is required for TES_BACKEND=azure-batch");
  const accountName = read.string("AZURE_BATCH_ACCOUNT_NAME", url.hostname.split(".")[0] ?? "");
  if (!/^[a-z0-9]{3,24}$/.test(accountName) && url.hostname.includes("batch.azure")) {
    throw new ConfigError("AZURE_BATCH_ACCOUNT_NAME must be 3 to 24 lower-case letters and digits");
  }
  const key = read.optionalString("AZURE_BATCH_ACCOUNT_KEY");
  if (key !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) throw new ConfigError("AZURE_BATCH_ACCOUNT_KEY must be base64");
  const image = read.string("AZURE_BATCH_IMAGE", "microsoft-dsvm:ubuntu-hpc:2204:latest").split(":");
  if (image.length !== 4 || image.some((part) => part === "")) {
    throw new ConfigError("AZURE_BATCH_IMAGE must be publisher:offer:sku:version");
  }
  const interval = read.string("AZURE_BATCH_AUTOSCALE_INTERVAL", "PT5M");
  if (!/^PT(\d+H)?(\d+M)?(\d+S)?$/.test(interval) || interval === "PT") {
    throw new ConfigError("AZURE_BATCH_AUTOSCALE_INTERVAL must be an ISO-8601 duration such as PT5M");
  }
  const vmSizesRaw = read.optionalString("AZURE_BATCH_VM_SIZES");
  const prefix = read.string("AZURE_BATCH_POOL_PREFIX", "tes");
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(prefix)) throw new ConfigError("AZURE_BATCH_POOL_PREFIX must be 1 to 16 letters, digits, - or _");
  const runnerImage = read.optionalString("AZURE_BATCH_RUNNER_IMAGE");
  if (runnerImage !== undefined && !/^[a-z0-9][a-z0-9._/:@-]*$/i.test(runnerImage)) throw new ConfigError("AZURE_BATCH_RUNNER_IMAGE must be an image reference such as myregistry.azurecr.io/tes-runner:1.0");
  const containerRegistries = parseContainerRegistries("AZURE_BATCH_CONTAINER_REGISTRIES", env.AZURE_BATCH_CONTAINER_REGISTRIES, env);
  if (containerRegistries.length > 0 && runnerImage === undefined) {
    // Registries are logged in by container-enabled pools, whose tasks must run in a container (§5).
    throw new ConfigError("AZURE_BATCH_CONTAINER_REGISTRIES needs AZURE_BATCH_RUNNER_IMAGE: only container-enabled pools log in to registries");
  }
  const arm = parseArmCoordinates(read);
  const nodeIdentityResourceId = parseNodeIdentity(read);
  requireArmForIdentities(arm, containerRegistries, nodeIdentityResourceId);
  return {
    accountUrl: url.toString().replace(/\/$/, ""),
    accountName,
    accountKey: key,
    poolPrefix: prefix,
    vmSizes: vmSizesRaw === undefined ? DEFAULT_VM_SIZES : parseVmSizes("AZURE_BATCH_VM_SIZES", vmSizesRaw),
    image: { publisher: image[0] as string, offer: image[1] as string, sku: image[2] as string, version: image[3] as string },
    nodeAgentSkuId: read.string("AZURE_BATCH_NODE_AGENT_SKU", "batch.node.ubuntu 22.04"),
    maxNodesPerPool: read.integer("AZURE_BATCH_MAX_NODES_PER_POOL", 10, { min: 1, max: 1000 }),
    autoScaleEvaluationInterval: interval,
    autoScaleWindowSeconds: read.integer("AZURE_BATCH_AUTOSCALE_WINDOW_SECONDS", 180, { min: 1, max: 86_400 }),
    poolIdleMs: read.integer("AZURE_BATCH_POOL_IDLE_MS", 30 * 60_000, { min: 0 }),
    // In the runner image (the server image, Dockerfile) the runner is compiled to dist/.
    runnerCommand: read.string("AZURE_BATCH_RUNNER", runnerImage === undefined ? "$AZ_BATCH_NODE_SHARED_DIR/tes-runner" : IMAGE_RUNNER_COMMAND),
    containerRuntime: read.oneOf("AZURE_BATCH_CONTAINER_RUNTIME", ["docker", "podman", "bwrap"] as const, "docker"),
    runnerImage,
    containerRegistries,
    arm,
    nodeIdentityResourceId,
    startTaskCommandLine: read.optionalString("AZURE_BATCH_START_TASK"),
    listIntervalMs: read.integer("AZURE_BATCH_LIST_INTERVAL_MS", 500, { min: 0, max: 600_000 }),
    maxConcurrentCalls: read.integer("AZURE_BATCH_MAX_CONCURRENT_CALLS", 8, { min: 1, max: 256 }),
    maxRetries: read.integer("AZURE_BATCH_MAX_RETRIES", 6, { min: 0, max: 100 }),
    maxRetryDelayMs: read.integer("AZURE_BATCH_MAX_RETRY_DELAY_MS", 60_000, { min: 0 }),
    // Last, so that a missing container URL stops loading after every other setting was checked.
    taskDocuments: parseTaskDocuments(read),
  };
}
