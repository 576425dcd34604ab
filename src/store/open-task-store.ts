import type { StoreConfig } from "../config/store.js";
import { PostgresTaskStore } from "./postgres/postgres-task-store.js";
import { SqliteTaskStore } from "./sqlite/sqlite-task-store.js";
import type { TaskStore } from "./task-store.js";

/**
 * The task store the configuration names (PostgreSQL when DATABASE_URL is set, else the SQLite file
 * under TES_DATA_DIR), migrated and ready. Several processes may open it at once.
 */
export async function openTaskStore(config: StoreConfig, options: { migrate?: boolean } = {}): Promise<TaskStore> {
  const store: TaskStore =
    config.kind === "postgres"
      ? new PostgresTaskStore({
          connectionString: config.url.reveal(),
          poolSize: config.poolSize,
          schema: config.schema,
          connectTimeoutInMs: config.connectTimeoutInMs,
          statementTimeoutInMs: config.statementTimeoutInMs,
          viewCacheBytes: config.viewCacheBytes,
        })
      : new SqliteTaskStore({ path: config.path, busyTimeoutInMs: config.busyTimeoutInMs, viewCacheBytes: config.viewCacheBytes });
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
