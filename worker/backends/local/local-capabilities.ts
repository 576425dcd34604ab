import type { LocalBackendConfig } from "../../../src/config/local-backend.js";
import type { BackendCapabilities } from "../compute-backend.js";

/**
 * What the local backend offers, from its settings alone: no backend_parameters, filetransfer's
 * built-in schemes, and the directories file:// may name. A small module of its own, so an
 * API-only process can describe the backend without loading it.
 */
export function localBackendCapabilities(config: Pick<LocalBackendConfig, "allowedDirs">): BackendCapabilities {
  return {
    name: "local",
    backendParameters: [],
    storage: [
      ...["http", "https", "az", "s3", "gs", "sftp", "ftps"].map((scheme) => `${scheme}://`),
      ...config.allowedDirs.map((dir) => `file://${dir}`),
    ],
  };
}
