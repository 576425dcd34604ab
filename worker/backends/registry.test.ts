import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { InputSchema, TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { createBackend, loadBackendDescription } from "./registry.js";

describe("backend registry", () => {
  test("TES_BACKEND=local builds the local backend, and its description matches what it reports", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tes-registry-"));
    const env = { TES_DATA_DIR: dir, TES_ALLOWED_DIRS: join(dir, "shared"), TES_CONTAINER_RUNTIME: "bwrap" };
    const backend = await createBackend("local", env);
    try {
      const description = loadBackendDescription("local", env);
      assert.deepEqual(description.capabilities, backend.capabilities);
      const outside = create(TaskSchema, { inputs: [create(InputSchema, { url: "file:///etc/passwd", path: "/in/p" })] });
      const problems = await description.admit!(outside);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /^inputs\[0\]\.url/);
      const inside = create(TaskSchema, { inputs: [create(InputSchema, { url: `file://${join(dir, "shared", "a.txt")}`, path: "/in/a" })] });
      assert.deepEqual(await description.admit!(inside), []);
    } finally {
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("TES_BACKEND=azure-batch is described without building it (no credentials needed)", () => {
    const description = loadBackendDescription("azure-batch", {});
    assert.equal(description.capabilities.name, "azure-batch");
    assert.deepEqual(description.capabilities.backendParameters, ["vm_size"]);
  });
});
