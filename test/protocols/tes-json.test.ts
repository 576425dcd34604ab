import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CreateTaskResponseSchema,
  ExecutorLogSchema,
  ExecutorSchema,
  FileType,
  InputSchema,
  ListTasksRequestSchema,
  ListTasksResponseSchema,
  OrganizationSchema,
  OutputFileLogSchema,
  OutputSchema,
  ResourcesSchema,
  ServiceInfoSchema,
  State,
  TaskLogSchema,
  TaskSchema,
} from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { readTesJson } from "../../src/rest/json-reader.js";
import { writeTesJson } from "../../src/rest/json-writer.js";
import { assertValidTes, schemaPropertyNames } from "../support/openapi-validator.js";

const SCHEMA_OF: ReadonlyArray<readonly [DescMessage, string]> = [
  [TaskSchema, "tesTask"],
  [InputSchema, "tesInput"],
  [OutputSchema, "tesOutput"],
  [ResourcesSchema, "tesResources"],
  [ExecutorSchema, "tesExecutor"],
  [TaskLogSchema, "tesTaskLog"],
  [ExecutorLogSchema, "tesExecutorLog"],
  [OutputFileLogSchema, "tesOutputFileLog"],
  [ServiceInfoSchema, "tesServiceInfo"],
  [ListTasksResponseSchema, "tesListTasksResponse"],
  [CreateTaskResponseSchema, "tesCreateTaskResponse"],
];

function invalidArgument(message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ConnectError, `not a ConnectError: ${String(error)}`);
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, message);
    return true;
  };
}

describe("TES JSON names", () => {
  for (const [message, schemaName] of SCHEMA_OF) {
    it(`${message.name}'s json_names are exactly the properties of ${schemaName}`, () => {
      assert.deepEqual(
        message.fields.map((field) => field.jsonName).sort(),
        schemaPropertyNames(schemaName).sort(),
      );
    });
  }
});

describe("writing TES JSON", () => {
  it("emits REQUIRED fields that hold defaults: exit_code 0, size_bytes \"0\", empty logs and outputs", () => {
    const task = create(TaskSchema, {
      id: "t1",
      state: State.COMPLETE,
      executors: [create(ExecutorSchema, { image: "alpine", command: ["true"] })],
      logs: [
        create(TaskLogSchema, {
          logs: [create(ExecutorLogSchema, {})],
          outputs: [create(OutputFileLogSchema, { url: "file:///o", path: "/o" })],
        }),
        create(TaskLogSchema, {}),
      ],
    });
    const json = writeTesJson(TaskSchema, task);
    assert.deepEqual(json.logs, [
      { logs: [{ exit_code: 0 }], outputs: [{ url: "file:///o", path: "/o", size_bytes: "0" }] },
      { logs: [], outputs: [] },
    ]);
    assertValidTes("tesTask", json);
  });

  it("writes an empty page as {\"tasks\": []}", () => {
    const json = writeTesJson(ListTasksResponseSchema, create(ListTasksResponseSchema, {}));
    assert.deepEqual(json, { tasks: [] });
    assertValidTes("tesListTasksResponse", json);
  });

  it("writes int64 as a string, enums as names, snake_case, and no nulls or unset optionals", () => {
    const task = create(TaskSchema, {
      id: "t2",
      state: State.EXECUTOR_ERROR,
      resources: create(ResourcesSchema, { cpuCores: 2, ramGb: 1.5, backendParametersStrict: true }),
      inputs: [create(InputSchema, { path: "/in", url: "file:///in", type: FileType.DIRECTORY })],
      outputs: [create(OutputSchema, { path: "/out/*", pathPrefix: "/out/", url: "file:///o/" })],
      executors: [create(ExecutorSchema, { image: "a", command: ["b"], ignoreError: true })],
      logs: [create(TaskLogSchema, { outputs: [create(OutputFileLogSchema, { url: "u", path: "/p", sizeBytes: 9007199254740993n })] })],
    });
    const json = writeTesJson(TaskSchema, task);
    assert.equal(json.state, "EXECUTOR_ERROR");
    assert.deepEqual(json.resources, { cpu_cores: 2, ram_gb: 1.5, backend_parameters_strict: true });
    assert.deepEqual(json.inputs, [{ path: "/in", url: "file:///in", type: "DIRECTORY" }]);
    assert.deepEqual(json.outputs, [{ path: "/out/*", path_prefix: "/out/", url: "file:///o/" }]);
    assert.equal((json.logs as Array<{ outputs: Array<{ size_bytes: unknown }> }>)[0]?.outputs[0]?.size_bytes, "9007199254740993");
    assert.doesNotMatch(JSON.stringify(json), /null/);
    assertValidTes("tesTask", json);
  });

  it("writes service-info with its camelCase GA4GH names and the required organization", () => {
    const json = writeTesJson(
      ServiceInfoSchema,
      create(ServiceInfoSchema, {
        id: "org.example.tes",
        name: "TES",
        type: { group: "org.ga4gh", artifact: "tes", version: "1.1.0" },
        organization: create(OrganizationSchema, { name: "Example", url: "https://example.org" }),
        version: "1.0.0",
        contactUrl: "https://example.org/contact",
        tesResourcesBackendParameters: ["VmSize"],
      }),
    );
    assert.equal(json.contactUrl, "https://example.org/contact");
    assert.deepEqual(json.tesResources_backend_parameters, ["VmSize"]);
    assertValidTes("tesServiceInfo", json);
  });
});

describe("reading TES JSON", () => {
  it("maps camelCase aliases to the schema's fields", () => {
    const task = readTesJson(TaskSchema, {
      resources: { cpuCores: 4, ramGb: 8, diskGb: 10, backendParametersStrict: true, backendParameters: { VmSize: "x" } },
      outputs: [{ path: "/o/*", pathPrefix: "/o/", url: "file:///x/" }],
      executors: [{ image: "a", command: ["b"], ignoreError: true }],
      creationTime: "2020-01-01T00:00:00Z",
    });
    assert.equal(task.resources?.cpuCores, 4);
    assert.equal(task.resources?.ramGb, 8);
    assert.equal(task.resources?.diskGb, 10);
    assert.equal(task.resources?.backendParametersStrict, true);
    assert.deepEqual(task.resources?.backendParameters, { VmSize: "x" });
    assert.equal(task.outputs[0]?.pathPrefix, "/o/");
    assert.equal(task.executors[0]?.ignoreError, true);
    assert.equal(task.creationTime, "", "an OUTPUT_ONLY field is not read, under any of its names");
  });

  it("treats null fields as absent, a null map value as \"\", and ignores unknown fields", () => {
    const task = readTesJson(TaskSchema, {
      name: null,
      resources: null,
      inputs: [{ path: "/a", content: "x", type: null, url: null }],
      tags: { workflow: "w", cromwell_sent_null: null, count: 3 },
      executors: [{ image: "a", command: ["b"], env: null, not_in_tes: true }],
      something_else: { nested: 1 },
    });
    assert.equal(task.name, "");
    assert.equal(task.resources, undefined);
    assert.equal(task.inputs[0]?.type, undefined);
    assert.deepEqual(task.tags, { workflow: "w", cromwell_sent_null: "", count: "3" });
    assert.deepEqual(task.executors[0]?.env, {});
  });

  it("reads enum names, int64 strings and numbers", () => {
    const task = readTesJson(TaskSchema, { inputs: [{ path: "/a", type: "DIRECTORY" }] });
    assert.equal(task.inputs[0]?.type, FileType.DIRECTORY);
    assert.equal(readTesJson(ListTasksRequestSchema, { state: "RUNNING" }).state, State.RUNNING);
    const log = readTesJson(OutputFileLogSchema, { size_bytes: "12345678901234" });
    assert.equal(log.sizeBytes, 12345678901234n);
    assert.equal(readTesJson(OutputFileLogSchema, { size_bytes: 42 }).sizeBytes, 42n);
  });

  it("refuses one field given under two of its names, naming both", () => {
    assert.throws(() => readTesJson(TaskSchema, { resources: { cpu_cores: 1, cpuCores: 2 } }), invalidArgument(/^resources\.cpu_cores: is given twice, as "cpu_cores" and as "cpuCores"$/));
    assert.equal(readTesJson(TaskSchema, { resources: { cpu_cores: null, cpuCores: 2 } }).resources?.cpuCores, 2, "a null is absent, so it is not a second value");
  });

  it("names the field when a value has the wrong type", () => {
    assert.throws(() => readTesJson(TaskSchema, { resources: { cpu_cores: "many" } }), invalidArgument(/^resources\.cpu_cores: must be an integer/));
    assert.throws(() => readTesJson(TaskSchema, { resources: { cpu_cores: 1.5 } }), invalidArgument(/^resources\.cpu_cores: must be an integer, got 1\.5/));
    assert.throws(() => readTesJson(TaskSchema, { executors: [{ image: "a", command: "echo hi" }] }), invalidArgument(/^executors\[0\]\.command: must be a JSON array/));
    assert.throws(() => readTesJson(TaskSchema, { executors: [{ image: 7 }] }), invalidArgument(/^executors\[0\]\.image: must be a string, got 7/));
    assert.throws(() => readTesJson(TaskSchema, { inputs: [{ path: "/a", type: "FOLDER" }] }), invalidArgument(/^inputs\[0\]\.type: must be one of FILE, DIRECTORY, got "FOLDER"/));
    assert.throws(() => readTesJson(TaskSchema, { volumes: ["/a", null] }), invalidArgument(/^volumes\[1\]: must not be null/));
    assert.throws(() => readTesJson(TaskSchema, { tags: ["a"] }), invalidArgument(/^tags: must be a JSON object, got an array/));
    assert.throws(() => readTesJson(TaskSchema, { resources: { cpu_cores: 2 ** 40 } }), invalidArgument(/^resources\.cpu_cores: must be between/));
    assert.throws(() => readTesJson(TaskSchema, { resources: { preemptible: "yes" } }), invalidArgument(/^resources\.preemptible: must be true or false/));
    assert.throws(() => readTesJson(TaskSchema, "a task"), invalidArgument(/must be a JSON object/));
    assert.throws(() => readTesJson(TaskSchema, JSON.parse('{"tags": {"__proto__": "x"}}')), invalidArgument(/^tags: must not have the key "__proto__"/));
    assert.throws(() => readTesJson(TaskSchema, JSON.parse('{"name": "a\\ud800b"}')), invalidArgument(/^name: must be valid Unicode text/));
    assert.throws(() => readTesJson(TaskSchema, JSON.parse('{"tags": {"k\\udfff": "v"}}')), invalidArgument(/^tags key "k.": must be valid Unicode text/));
    assert.equal(readTesJson(TaskSchema, JSON.parse('{"name": "\\ud83d\\ude00"}')).name, "\u{1F600}");
  });
});
