import { ConfigError, type Env } from "../../src/config/env-reader.js";
import { loadLocalBackendConfig } from "../../src/config/local-backend.js";
import type { BackendName } from "../../src/config/worker.js";
import type { ComputeBackend } from "./compute-backend.js";

/** Builds a backend from its own settings in the environment. */
export type BackendFactory = (env: Env) => Promise<ComputeBackend>;

/**
 * The compute backends TES_BACKEND can name. Each is imported only when chosen, so one backend's
 * dependencies (the Azure SDK) are not loaded by a server that runs another.
 */
const FACTORIES: Readonly<Record<BackendName, BackendFactory>> = {
  local: async (env) => {
    const { LocalBackend } = await import("./local/local-backend.js");
    return new LocalBackend(loadLocalBackendConfig(env));
  },
  "azure-batch": async () => {
    throw new ConfigError("TES_BACKEND=azure-batch names a backend that this build does not include yet; use local");
  },
};

export async function createBackend(name: BackendName, env: Env): Promise<ComputeBackend> {
  return FACTORIES[name](env);
}
