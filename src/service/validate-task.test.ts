import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ExecutorSchema,
  FileType,
  InputSchema,
  OutputSchema,
  ResourcesSchema,
  type TaskSchema,
} from "../gen/ga4gh/tes/v1/tes_pb.js";
import type { LimitsConfig } from "../config/limits.js";
import { startHarness, storedCount, validTask, type Harness } from "./testing/service-harness.js";

type TaskInit = MessageInitShape<typeof TaskSchema>;

const executor = (init: MessageInitShape<typeof ExecutorSchema>) =>
  create(ExecutorSchema, { image: "alpine", command: ["true"], ...init });
const input = (init: MessageInitShape<typeof InputSchema>) => create(InputSchema, { url: "s3://b/k", path: "/in/f", ...init });
const output = (init: MessageInitShape<typeof OutputSchema>) => create(OutputSchema, { url: "s3://b/o", path: "/out/f", ...init });

/** [what is wrong, the task, the exact message the client gets]. */
const rejected: Array<[string, TaskInit, string]> = [
  ["no executors", { executors: [] }, "executors is required: a task needs at least one executor"],
  ["an executor without image", { executors: [executor({ image: "" })] }, "executors[0].image is required"],
  ["an image with a space", { executors: [executor({ image: "alpine latest" })] }, "executors[0].image must be an image reference without whitespace"],
  ["an executor without command", { executors: [executor({}), executor({ command: [] })] }, "executors[1].command is required"],
  ["an empty argv[0]", { executors: [executor({ command: ["", "x"] })] }, "executors[0].command[0] must not be empty: it names the program to run"],
  ["a NUL in an argument", { executors: [executor({ command: ["echo", "a\0b"] })] }, "executors[0].command[1] must not contain NUL characters"],
  ["a relative workdir", { executors: [executor({ workdir: "work" })] }, 'executors[0].workdir must be an absolute path, got "work"'],
  ["a relative stdin", { executors: [executor({ stdin: "in.txt" })] }, 'executors[0].stdin must be an absolute path, got "in.txt"'],
  ["a stdout with ..", { executors: [executor({ stdout: "/out/../../etc/passwd" })] }, 'executors[0].stdout must not contain ".." segments, got "/out/../../etc/passwd"'],
  ["a stderr at /", { executors: [executor({ stderr: "/" })] }, 'executors[0].stderr must not be the root directory "/"'],
  ["an env name with =", { executors: [executor({ env: { "A=B": "1" } })] }, 'executors[0].env has a variable name "A=B" that is empty or contains "=" or NUL'],
  ["an empty env name", { executors: [executor({ env: { "": "1" } })] }, 'executors[0].env has a variable name "" that is empty or contains "=" or NUL'],
  ["a NUL in an env value", { executors: [executor({ env: { A: "x\0y" } })] }, 'executors[0].env["A"] must not contain NUL characters'],
  ["an input without path", { inputs: [input({ path: "" })] }, "inputs[0].path is required"],
  ["a relative input path", { inputs: [input({}), input({ path: "/in/g" }), input({ path: "data/x" })] }, 'inputs[2].path must be an absolute path, got "data/x"'],
  ["an input path with ..", { inputs: [input({ path: "/in/../x" })] }, 'inputs[0].path must not contain ".." segments, got "/in/../x"'],
  ["a NUL in the name", { name: "a\0b" }, "name must not contain NUL characters"],
  ["a NUL in a tag key", { tags: { "k\0": "v" } }, 'tags key "k\\u0000" must not contain NUL characters'],
  ["a NUL in a tag value", { tags: { k: "v\0" } }, 'tags["k"] must not contain NUL characters'],
  ["an input path with NUL", { inputs: [input({ path: "/in/a\0" })] }, "inputs[0].path must not contain NUL characters"],
  ["an input at /", { inputs: [input({ path: "/./" })] }, 'inputs[0].path must not be the root directory "/"'],
  ["an input without url or content", { inputs: [input({ url: "" })] }, "inputs[0] needs a url or a non-empty content"],
  [
    "two different inputs at one path",
    { inputs: [input({ path: "/in/a" }), input({ path: "/in//a/", url: "s3://b/other" })] },
    "inputs[1].path is the same path as inputs[0].path, from another source (url, content, type and streamable must all match)",
  ],
  [
    "a url and a content input at one path",
    { inputs: [input({ path: "/in/a" }), input({ path: "/in/a", content: "x" })] },
    "inputs[1].path is the same path as inputs[0].path, from another source (url, content, type and streamable must all match)",
  ],
  ["content for a directory", { inputs: [input({ content: "x", type: FileType.DIRECTORY })] }, "inputs[0].content cannot be used with type DIRECTORY: content is one file"],
  ["an unknown input type", { inputs: [input({ type: 7 as FileType })] }, "inputs[0].type must be one of FILE, DIRECTORY, got 7"],
  ["an output without url", { outputs: [output({ url: "" })] }, "outputs[0].url is required"],
  ["an output without path", { outputs: [output({ path: "" })] }, "outputs[0].path is required"],
  ["a relative output path", { outputs: [output({ path: "out.txt" })] }, 'outputs[0].path must be an absolute path, got "out.txt"'],
  ["a wildcard without path_prefix", { outputs: [output({ path: "/out/*.txt" })] }, "outputs[0].path_prefix is required when outputs[0].path has wildcards (*, ?, [...])"],
  ["a ? wildcard without path_prefix", { outputs: [output({ path: "/out/a?.txt" })] }, "outputs[0].path_prefix is required when outputs[0].path has wildcards (*, ?, [...])"],
  ["a bracket wildcard without path_prefix", { outputs: [output({ path: "/out/[ab].txt" })] }, "outputs[0].path_prefix is required when outputs[0].path has wildcards (*, ?, [...])"],
  ["a path_prefix that is not a prefix", { outputs: [output({ path: "/out/*.txt", pathPrefix: "/other/" })] }, "outputs[0].path_prefix must be a prefix of outputs[0].path"],
  ["a path_prefix with wildcards", { outputs: [output({ path: "/out/*/x/*.txt", pathPrefix: "/out/*/" })] }, "outputs[0].path_prefix must not contain wildcards: it is removed from each match literally"],
  ["a relative volume", { volumes: ["/ok", "scratch"] }, 'volumes[1] must be an absolute path, got "scratch"'],
  ["a volume at /", { volumes: ["/"] }, 'volumes[0] must not be the root directory "/"'],
  ["two volumes at one path", { volumes: ["/a/b", "/a/./b"] }, "volumes[1] is the same path as volumes[0]"],
  ["negative cpu_cores", { resources: create(ResourcesSchema, { cpuCores: -1 }) }, "resources.cpu_cores must not be negative, got -1"],
  ["negative ram_gb", { resources: create(ResourcesSchema, { ramGb: -0.5 }) }, "resources.ram_gb must not be negative, got -0.5"],
  ["NaN disk_gb", { resources: create(ResourcesSchema, { diskGb: Number.NaN }) }, "resources.disk_gb must be a finite number"],
  ["infinite ram_gb", { resources: create(ResourcesSchema, { ramGb: Number.POSITIVE_INFINITY }) }, "resources.ram_gb must be a finite number"],
];

describe("CreateTask validation: every bad input gets a clear invalid_argument and changes nothing", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  for (const [what, init, message] of rejected) {
    it(`refuses ${what}: ${message}`, async () => {
      await assertRejected(h, validTask(init), message);
    });
  }

  it("accepts a task using every field correctly", async () => {
    const accepted = await startHarness();
    try {
      await accepted.client.createTask(
        validTask({
          name: "every field",
          description: "d",
          executors: [
            executor({ command: ["sh", "-c", "cat /in/a > /out/a"], workdir: "/", stdin: "/in/a", stdout: "/out/log", stderr: "/out/err", env: { A: "1" }, ignoreError: true }),
            executor({ image: "quay.io/biocontainers/samtools:1.17--h00cdaf9_0", command: ["samtools"] }),
          ],
          inputs: [input({ path: "/in/a", content: "x" }), input({ path: "/in/d", type: FileType.DIRECTORY, streamable: true })],
          outputs: [
            output({ path: "/out/a" }),
            output({ path: "/out/*.txt", pathPrefix: "/out/", url: "s3://b/res/" }),
            output({ path: "/logs", type: FileType.DIRECTORY }),
          ],
          volumes: ["/scratch", "/shared"],
          tags: { project: "p" },
          resources: create(ResourcesSchema, { cpuCores: 2, ramGb: 3.5, diskGb: 10, preemptible: true, zones: ["westeurope"] }),
        }),
      );
      assert.equal(await storedCount(accepted.store), 1);
    } finally {
      await accepted.close();
    }
  });

  it("accepts the same input twice at one path (Cromwell and Snakemake send a file once per use)", async () => {
    const accepted = await startHarness();
    try {
      await accepted.client.createTask(validTask({ inputs: [input({ path: "/in/a" }), input({ path: "/in//a/" }), input({ path: "/in/b", content: "x" }), input({ path: "/in/b", content: "x" })] }));
      assert.equal(await storedCount(accepted.store), 1);
    } finally {
      await accepted.close();
    }
  });

  it("ignores path_prefix when the output path has no wildcards", async () => {
    const accepted = await startHarness();
    try {
      await accepted.client.createTask(validTask({ outputs: [output({ path: "/out/a", pathPrefix: "/unrelated/" })] }));
      assert.equal(await storedCount(accepted.store), 1);
    } finally {
      await accepted.close();
    }
  });
});

/** Each limit, set low, with a task just over it and the message that says so. */
const overLimits: Array<[Partial<LimitsConfig>, TaskInit, string]> = [
  [{ maxExecutors: 2 }, { executors: [executor({}), executor({}), executor({})] }, "executors must have at most 2 entries, got 3"],
  [{ maxInputs: 1 }, { inputs: [input({ path: "/a" }), input({ path: "/b" })] }, "inputs must have at most 1 entries, got 2"],
  [{ maxOutputs: 1 }, { outputs: [output({}), output({})] }, "outputs must have at most 1 entries, got 2"],
  [{ maxVolumes: 1 }, { volumes: ["/a", "/b"] }, "volumes must have at most 1 entries, got 2"],
  [{ maxInputContentBytes: 131072 }, { inputs: [input({ content: "é".repeat(65537) })] }, "inputs[0].content must be at most 131072 bytes, got 131074"],
  [
    { maxInputContentBytes: 131072, maxTotalInputContentBytes: 200000 },
    { inputs: [input({ path: "/a", content: "x".repeat(100000) }), input({ path: "/b", content: "x".repeat(100001) })] },
    "inputs[*].content must total at most 200000 bytes, got 200001",
  ],
  [{ maxTags: 1 }, { tags: { a: "1", b: "2" } }, "tags must have at most 1 entries, got 2"],
  [{ maxTagKeyBytes: 3 }, { tags: { abcd: "1" } }, 'tags key "abcd" must be at most 3 bytes, got 4'],
  [{ maxTagValueBytes: 3 }, { tags: { a: "1234" } }, 'tags["a"] must be at most 3 bytes, got 4'],
  [{ maxEnvVars: 1 }, { executors: [executor({ env: { A: "1", B: "2" } })] }, "executors[0].env must have at most 1 entries, got 2"],
  [{ maxEnvNameBytes: 2 }, { executors: [executor({ env: { ABC: "1" } })] }, 'executors[0].env["ABC"] name must be at most 2 bytes, got 3'],
  [{ maxEnvValueBytes: 2 }, { executors: [executor({ env: { A: "123" } })] }, 'executors[0].env["A"] must be at most 2 bytes, got 3'],
  [{ maxEnvTotalBytes: 5 }, { executors: [executor({ env: { A: "12", B: "34" } })] }, "executors[0].env names and values must total at most 5 bytes, got 6"],
  [{ maxCommandArgs: 2 }, { executors: [executor({ command: ["a", "b", "c"] })] }, "executors[0].command must have at most 2 entries, got 3"],
  [{ maxCommandBytes: 5 }, { executors: [executor({ command: ["abc", "def"] })] }, "executors[0].command arguments must total at most 5 bytes, got 6"],
  [{ maxImageBytes: 4 }, { executors: [executor({ image: "alpine" })] }, "executors[0].image must be at most 4 bytes, got 6"],
  [{ maxPathBytes: 4 }, { inputs: [input({ path: "/in/f" })] }, "inputs[0].path must be at most 4 bytes, got 5"],
  [{ maxUrlBytes: 4 }, { outputs: [output({ url: "s3://b/o" })] }, "outputs[0].url must be at most 4 bytes, got 8"],
  [{ maxNameBytes: 3 }, { name: "abcd" }, "name must be at most 3 bytes, got 4"],
  [{ maxNameBytes: 3 }, { inputs: [input({ name: "abcd" })] }, "inputs[0].name must be at most 3 bytes, got 4"],
  [{ maxDescriptionBytes: 3 }, { description: "abcd" }, "description must be at most 3 bytes, got 4"],
  [{ maxZones: 1 }, { resources: create(ResourcesSchema, { zones: ["a", "b"] }) }, "resources.zones must have at most 1 entries, got 2"],
  [{ maxBackendParameters: 1 }, { resources: create(ResourcesSchema, { backendParameters: { VmSize: "a", x: "b" } }) }, "resources.backend_parameters must have at most 1 entries, got 2"],
  [{ maxBackendParameterValueBytes: 2 }, { resources: create(ResourcesSchema, { backendParameters: { VmSize: "abc" } }) }, 'resources.backend_parameters["VmSize"] must be at most 2 bytes, got 3'],
];

describe("CreateTask limits: each is enforced with a message that names the field, the limit and the size", () => {
  for (const [limits, init, message] of overLimits) {
    it(`${Object.keys(limits).join(", ")}: ${message}`, async () => {
      const h = await startHarness({ limits });
      try {
        await assertRejected(h, validTask(init), message);
      } finally {
        await h.close();
      }
    });
  }

  it("accepts a task exactly at each of those limits", async () => {
    const h = await startHarness({ limits: { maxExecutors: 2, maxCommandBytes: 6, maxTags: 1, maxTagKeyBytes: 1, maxEnvTotalBytes: 4 } });
    try {
      await h.client.createTask(
        validTask({ executors: [executor({ command: ["abc", "def"], env: { A: "12", B: "" } }), executor({})], tags: { a: "x" } }),
      );
      assert.equal(await storedCount(h.store), 1);
    } finally {
      await h.close();
    }
  });
});

async function assertRejected(h: Harness, task: ReturnType<typeof validTask>, message: string): Promise<void> {
  const stored = await storedCount(h.store);
  const submitted = h.queue.submitted.length;
  await assert.rejects(h.client.createTask(task), (error: unknown) => {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    assert.equal(error.rawMessage, message);
    assert.equal(error.code, Code.InvalidArgument);
    return true;
  });
  assert.equal(await storedCount(h.store), stored, "nothing is stored");
  assert.equal(h.queue.submitted.length, submitted, "nothing is enqueued");
}
