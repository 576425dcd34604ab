import { ConfigError, type Env } from "../../src/config/env-reader.js";
import { loadLocalBackendConfig } from "../../src/config/local-backend.js";
import type { BackendName } from "../../src/config/worker.js";
import type { Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { BACKEND_PARAMETERS as AZURE_BATCH_PARAMETERS } from "./azure-batch/azure-batch-backend.js";
import { azureBatchObjections } from "./azure-batch/task-admission.js";
import type { BackendCapabilities, ComputeBackend } from "./compute-backend.js";
import { findDisallowedFileUrls } from "./local/file-url-policy.js";
import { localBackendCapabilities } from "./local/local-capabilities.js";

/** Builds a backend from its own settings in the environment. */
export type BackendFactory = (env: Env) => Promise<ComputeBackend>;

/**
 * What the API needs to know of the configured backend without running it (an API-only process
 * builds no backend): its capabilities, for service-info and backend_parameters, and its
 * objections to a task before it is stored.
 */
export interface BackendDescription {
  readonly capabilities: BackendCapabilities;
  /** One sentence per problem, naming the field; empty when the backend can take the task. */
  readonly admit?: (task: Task) => Promise<readonly string[]>;
}

/**
 * The compute backends TES_BACKEND can name. Each is imported only when chosen, so one backend's
 * dependencies (the Azure SDK) are not loaded by a server that runs another.
 */
const FACTORIES: Readonly<Record<BackendName, BackendFactory>> = {
  local: async (env) => {
    const { LocalBackend } = await import("./local/local-backend.js");
    return new LocalBackend(loadLocalBackendConfig(env));
  },
  "azure-batch": async (env) => {
    const { createAzureBatchBackend } = await import("./azure-batch/create-azure-batch-backend.js");
    return createAzureBatchBackend(env);
  },
};

export async function createBackend(name: BackendName, env: Env): Promise<ComputeBackend> {
  return FACTORIES[name](env);
}

/** The description of the backend TES_BACKEND names; equal to what the built backend reports (tested). */
export function loadBackendDescription(name: BackendName, env: Env): BackendDescription {
  switch (name) {
    case "local": {
      const config = loadLocalBackendConfig(env);
      return {
        capabilities: localBackendCapabilities(config),
        admit: (task) => findDisallowedFileUrls(task, config.allowedDirs),
      };
    }
    case "azure-batch":
      return {
        capabilities: {
          name: "azure-batch",
          backendParameters: [...AZURE_BATCH_PARAMETERS],
          storage: ["https://*.blob.core.windows.net/", "http://", "https://"],
        },
        admit: azureBatchObjections,
      };
    default:
      throw new ConfigError(`TES_BACKEND names an unknown backend "${String(name)}"`);
  }
}
