import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadLocalBackendConfig } from "./local-backend.js";

test("defaults: work dir under TES_DATA_DIR, no allowed dirs, runtime detected, no network, the host's cores", () => {
  const config = loadLocalBackendConfig({ TES_DATA_DIR: "/var/lib/tes" });
  assert.equal(config.workDir, "/var/lib/tes/local-backend");
  assert.deepEqual(config.allowedDirs, []);
  assert.equal(config.containerRuntime, undefined);
  assert.equal(config.network, false);
  assert.equal(config.cpuCores, os.availableParallelism());
  assert.equal(config.logTailBytes, 16 * 1024);
});

test("every setting is read, and paths are resolved", () => {
  const config = loadLocalBackendConfig({
    TES_LOCAL_WORK_DIR: "/srv/tes/work",
    TES_ALLOWED_DIRS: "/data, /mnt/shared/",
    TES_CONTAINER_RUNTIME: "Podman",
    TES_LOCAL_NETWORK: "true",
    TES_LOCAL_LIMITS: "rlimit",
    TES_LOCAL_CPU_CORES: "3.5",
    TES_LOCAL_RAM_GB: "12",
    TES_LOCAL_DEFAULT_CPU_CORES: "0.5",
    TES_LOCAL_DEFAULT_RAM_GB: "2",
    TES_LOG_TAIL_BYTES: "1024",
  });
  assert.deepEqual(config, {
    workDir: "/srv/tes/work",
    dataDir: path.resolve("data"),
    allowedDirs: ["/data", path.resolve("/mnt/shared")],
    containerRuntime: "podman",
    network: true,
    limits: "rlimit",
    cpuCores: 3.5,
    ramGb: 12,
    defaultTaskCpuCores: 0.5,
    defaultTaskRamGb: 2,
    logTailBytes: 1024,
  });
});

test("a bad setting is refused with its name", () => {
  assert.throws(() => loadLocalBackendConfig({ TES_ALLOWED_DIRS: "data" }), /TES_ALLOWED_DIRS must hold absolute paths, got "data"/);
  assert.throws(() => loadLocalBackendConfig({ TES_CONTAINER_RUNTIME: "lxc" }), /TES_CONTAINER_RUNTIME must be one of docker, podman, bwrap/);
  assert.throws(() => loadLocalBackendConfig({ TES_LOCAL_NETWORK: "maybe" }), /TES_LOCAL_NETWORK must be true or false/);
  assert.throws(() => loadLocalBackendConfig({ TES_LOG_TAIL_BYTES: "-1" }), /TES_LOG_TAIL_BYTES must be between 0/);
  assert.throws(() => loadLocalBackendConfig({ TES_LOCAL_CPU_CORES: "0" }), /TES_LOCAL_CPU_CORES must be between 0.1/);
});
