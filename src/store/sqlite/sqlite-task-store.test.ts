import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineTaskStoreConformanceTests } from "../task-store-conformance.js";
import { SqliteTaskStore } from "./sqlite-task-store.js";

defineTaskStoreConformanceTests({
  name: "SQLite",
  async createDatabase() {
    const dir = mkdtempSync(join(tmpdir(), "tes-sqlite-store-"));
    const path = join(dir, "tes.sqlite");
    return {
      async openStore(tuning) {
        return new SqliteTaskStore({ path, busyTimeoutInMs: 5000, ...tuning });
      },
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
