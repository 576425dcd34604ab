import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { loadLocalBackendConfig } from "../../../src/config/local-backend.js";
import { defineBackendConformanceTests } from "../conformance/backend-conformance.js";
import { LocalBackend } from "./local-backend.js";

const scratch = await mkdtemp(path.join(os.tmpdir(), "tes-local-conformance-"));
after(() => rm(scratch, { recursive: true, force: true }));

defineBackendConformanceTests("local (bwrap)", {
  create: async () =>
    new LocalBackend(loadLocalBackendConfig({ TES_LOCAL_WORK_DIR: scratch, TES_CONTAINER_RUNTIME: "bwrap" })),
  endTimeoutMs: 20_000,
  cancelTimeoutMs: 2000,
});
