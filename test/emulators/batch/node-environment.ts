import { join } from "node:path";
import type { NodeRecord } from "./account-model.js";
import type { AccountState } from "./account-state.js";

/**
 * The AZ_BATCH_* environment a node agent gives a task or start task (§4).
 */
export function environment(account: AccountState, node: NodeRecord, extra: Record<string, string>, settings: { name: string; value: string }[]): Record<string, string> {
  const env: Record<string, string> = {
    ...account.config.baseEnv,
    AZ_BATCH_ACCOUNT_NAME: account.config.accountName,
    AZ_BATCH_ACCOUNT_URL: account.config.baseUrl(),
    AZ_BATCH_POOL_ID: node.pool.id,
    AZ_BATCH_NODE_ID: node.id,
    AZ_BATCH_NODE_IS_DEDICATED: node.isDedicated ? "true" : "false",
    AZ_BATCH_NODE_ROOT_DIR: node.rootDir,
    AZ_BATCH_NODE_SHARED_DIR: join(node.rootDir, "shared"),
    AZ_BATCH_NODE_STARTUP_DIR: join(node.rootDir, "startup"),
    AZ_BATCH_NODE_MOUNTS_DIR: join(node.rootDir, "fsmounts"),
    AZ_BATCH_RESERVED_EPHEMERAL_DISK_SPACE_BYTES: "1000000000",
    ...extra,
  };
  for (const setting of settings) env[setting.name] = setting.value;
  return env;
}
