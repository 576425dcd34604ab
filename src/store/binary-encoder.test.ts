import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { file_google_protobuf_descriptor, FileDescriptorProtoSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { file_ga4gh_tes_v1_tes, FileType, State, TaskSchema } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { compileBinaryEncoder } from "./binary-encoder.js";

// FieldDescriptorProto.Type and .Label numbers.
const T = { double: 1, float: 2, int64: 3, uint64: 4, int32: 5, fixed64: 6, fixed32: 7, bool: 8, string: 9, group: 10, message: 11, bytes: 12, uint32: 13, enum: 14, sfixed32: 15, sfixed64: 16, sint32: 17, sint64: 18 } as const;
const OPTIONAL = 1;
const REPEATED = 3;
const SCALARS = Object.keys(T).filter((name) => !["group", "message", "enum"].includes(name)) as Array<keyof typeof T>;

/**
 * A proto3 message with a field of every kind: each scalar type singular, optional (explicit
 * presence), repeated (packed where proto3 packs) and as a map value, maps under every key type, an
 * enum, a oneof, a nested message and a message that holds itself.
 */
function everyKindSchema(): DescMessage {
  const field: Array<Record<string, unknown>> = [];
  const nestedType: Array<Record<string, unknown>> = [];
  let number = 1;
  const add = (name: string, type: number, extra: Record<string, unknown> = {}) => field.push({ name, number: number++, type, label: OPTIONAL, jsonName: name, ...extra });
  const mapOf = (name: string, key: number, value: number, extra: Record<string, unknown> = {}) => {
    const entry = `${name[0]!.toUpperCase()}${name.slice(1)}Entry`;
    nestedType.push({
      name: entry,
      options: { mapEntry: true },
      field: [
        { name: "key", number: 1, type: key, label: OPTIONAL, jsonName: "key" },
        { name: "value", number: 2, type: value, label: OPTIONAL, jsonName: "value", ...extra },
      ],
    });
    add(name, T.message, { label: REPEATED, typeName: `.test.v1.Every.${entry}` });
  };
  let oneofIndex = 0;
  const oneofDecl: Array<{ name: string }> = [];
  for (const scalar of SCALARS) {
    add(`${scalar}_value`, T[scalar]);
    oneofDecl.push({ name: `_optional_${scalar}` });
    add(`optional_${scalar}`, T[scalar], { proto3Optional: true, oneofIndex: oneofIndex++ });
    add(`repeated_${scalar}`, T[scalar], { label: REPEATED });
    mapOf(`string_to_${scalar}`, T.string, T[scalar]);
  }
  for (const key of ["int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool"] as const) {
    mapOf(`${key}_to_string`, T[key], T.string);
  }
  add("color", T.enum, { typeName: ".test.v1.Color" });
  add("colors", T.enum, { label: REPEATED, typeName: ".test.v1.Color" });
  mapOf("string_to_color", T.string, T.enum, { typeName: ".test.v1.Color" });
  add("child", T.message, { typeName: ".test.v1.Every" });
  add("children", T.message, { label: REPEATED, typeName: ".test.v1.Every" });
  mapOf("string_to_child", T.string, T.message, { typeName: ".test.v1.Every" });
  oneofDecl.push({ name: "choice" });
  add("choice_text", T.string, { oneofIndex });
  add("choice_number", T.sint32, { oneofIndex });
  add("choice_child", T.message, { oneofIndex, typeName: ".test.v1.Every" });
  const file = create(FileDescriptorProtoSchema, {
    name: "test/v1/every.proto",
    package: "test.v1",
    syntax: "proto3",
    enumType: [{ name: "Color", value: [{ name: "COLOR_UNSPECIFIED", number: 0 }, { name: "RED", number: 1 }, { name: "MINUS", number: -3 }] }],
    messageType: [{ name: "Every", field, nestedType, oneofDecl }],
  } as never);
  return createFileRegistry(file, () => undefined).getMessage("test.v1.Every")!;
}

/** A small seeded generator (mulberry32), so that every run checks the same messages. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGES: Record<string, readonly unknown[]> = {
  double: [0, -0, 1.5, -2.25e300, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE],
  float: [0, -0, 1.5, -3.4028234663852886e38, Number.NaN, Number.NEGATIVE_INFINITY],
  int32: [0, 1, 127, 128, -1, 0x7fffffff, -0x80000000],
  sint32: [0, 1, -1, 0x7fffffff, -0x80000000],
  sfixed32: [0, -1, 0x7fffffff, -0x80000000],
  uint32: [0, 1, 127, 128, 16384, 0xffffffff],
  fixed32: [0, 1, 0xffffffff],
  int64: [0n, 1n, -1n, 2n ** 35n, -(2n ** 35n), 2n ** 63n - 1n, -(2n ** 63n)],
  sint64: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n)],
  sfixed64: [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)],
  uint64: [0n, 1n, 2n ** 32n, 2n ** 64n - 1n],
  fixed64: [0n, 1n, 2n ** 64n - 1n],
  bool: [false, true],
  string: ["", "a", "plain ascii", "grüße, 日本語, emoji 🧬", "unpaired \ud800 surrogate \udfff", "x".repeat(42), "é".repeat(42), "y".repeat(43), "z".repeat(300), "ü".repeat(9000)],
  bytes: [new Uint8Array(0), new Uint8Array([0, 255, 7]), new Uint8Array(200).fill(9)],
};

function randomEvery(schema: DescMessage, next: () => number, depth: number): Record<string, unknown> {
  const pick = <V>(list: readonly V[]): V => list[Math.floor(next() * list.length)]!;
  const maybe = () => next() < 0.4;
  const init: Record<string, unknown> = {};
  for (const scalar of SCALARS) {
    const values = EDGES[scalar]!;
    if (maybe()) init[`${scalar}Value`] = pick(values);
    if (maybe()) init[`optional${scalar[0]!.toUpperCase()}${scalar.slice(1)}`] = pick(values);
    if (maybe()) init[`repeated${scalar[0]!.toUpperCase()}${scalar.slice(1)}`] = Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(values));
    if (maybe()) init[`stringTo${scalar[0]!.toUpperCase()}${scalar.slice(1)}`] = { [pick(EDGES.string!) as string]: pick(values), k: pick(values) };
  }
  if (maybe()) init.int32ToString = { "-5": "minus", "300": pick(EDGES.string!) };
  if (maybe()) init.int64ToString = { "-9223372036854775808": "min", "7": "" };
  if (maybe()) init.uint64ToString = { "18446744073709551615": "max" };
  if (maybe()) init.sint64ToString = { "-1": "a" };
  if (maybe()) init.fixed32ToString = { "4294967295": "b" };
  if (maybe()) init.boolToString = { true: "yes", false: "no" };
  if (maybe()) init.color = pick([0, 1, -3]);
  if (maybe()) init.colors = [1, -3, 0];
  if (maybe()) init.stringToColor = { a: -3, b: 0 };
  if (depth > 0) {
    if (maybe()) init.child = randomEvery(schema, next, depth - 1);
    if (maybe()) init.children = [randomEvery(schema, next, depth - 1), {}];
    if (maybe()) init.stringToChild = { only: randomEvery(schema, next, depth - 1) };
  }
  const choice = pick(["none", "text", "number", "child"]);
  if (choice === "text") init.choice = { case: "choiceText", value: pick(EDGES.string!) };
  if (choice === "number") init.choice = { case: "choiceNumber", value: pick(EDGES.sint32!) };
  if (choice === "child") init.choice = { case: "choiceChild", value: depth > 0 ? randomEvery(schema, next, depth - 1) : {} };
  return init;
}

function assertSameBytes(schema: DescMessage, message: never, what: string): Uint8Array {
  const bytes = compileBinaryEncoder(schema)(message);
  assert.deepEqual(Buffer.from(bytes), Buffer.from(toBinary(schema, message)), what);
  return bytes;
}

describe("compileBinaryEncoder writes the bytes protobuf-es's toBinary writes", () => {
  test("for 300 messages with fields of every kind, every scalar type at its edges (NaN, -0, int64 limits, long and multi-byte text)", () => {
    const schema = everyKindSchema();
    const encode = compileBinaryEncoder(schema);
    const next = random(20261208);
    for (let i = 0; i < 300; i++) {
      const message = create(schema, randomEvery(schema, next, 2) as never);
      const bytes = encode(message as never);
      assert.deepEqual(Buffer.from(bytes), Buffer.from(toBinary(schema, message)), `message ${i}`);
    }
  });

  test("for TES tasks: a new one, and a finished one with logs, outputs and every optional field", () => {
    const asCreated = {
      id: "0193abcd-0000-7000-8000-000000000000",
      state: State.QUEUED,
      name: "bench-create",
      executors: [{ image: "alpine", command: ["echo", "hello"] }],
      inputs: [{ path: "/in/a.txt", url: "file:///data/a.txt", type: FileType.FILE }],
      resources: { cpuCores: 1 },
      tags: { project: "bench" },
      creationTime: "2026-12-08T01:00:00.000Z",
    };
    assertSameBytes(TaskSchema, create(TaskSchema, asCreated) as never, "a task as CreateTask stores it");
    const finished = create(TaskSchema, {
      ...asCreated,
      state: State.EXECUTOR_ERROR,
      description: "d".repeat(500),
      inputs: [{ path: "/in/b", content: "c".repeat(200_000), type: FileType.FILE, streamable: true }],
      outputs: [{ path: "/out/*.txt", pathPrefix: "/out/", url: "az://x/y", type: FileType.DIRECTORY }],
      resources: { cpuCores: 4, preemptible: false, ramGb: 7.5, diskGb: -0, zones: ["a", "b"], backendParameters: { VmSize: "D4" }, backendParametersStrict: true },
      executors: [{ image: "ubuntu", command: ["sh", "-c", "exit 3"], workdir: "/w", stdin: "/in/b", stdout: "/o", stderr: "/e", env: { A: "1", "": "" }, ignoreError: true }],
      volumes: ["/v"],
      logs: [
        {
          logs: [{ startTime: "s", endTime: "e", stdout: "out ".repeat(700), stderr: "", exitCode: -1 }],
          metadata: { node: "n1" },
          outputs: [{ url: "az://x/y/1.txt", path: "/out/1.txt", sizeBytes: 2n ** 40n }],
          systemLogs: ["one", "two"],
        },
      ],
    });
    assertSameBytes(TaskSchema, finished as never, "a finished task of every field");
  });

  test("for proto2 descriptors (explicit presence, defaults kept on the prototype, packed and unpacked lists) and google.protobuf.Struct", () => {
    assertSameBytes(FileDescriptorProtoSchema, file_ga4gh_tes_v1_tes.proto as never, "tes.proto's descriptor");
    assertSameBytes(FileDescriptorProtoSchema, file_google_protobuf_descriptor.proto as never, "descriptor.proto's descriptor");
    const struct = create(StructSchema, {
      fields: {
        a: { kind: { case: "numberValue", value: -0 } },
        b: { kind: { case: "listValue", value: { values: [{ kind: { case: "stringValue", value: "s".repeat(300) } }, { kind: { case: "boolValue", value: false } }] } } },
        c: { kind: { case: "structValue", value: { fields: { d: { kind: { case: "nullValue", value: 0 } } } } } },
      },
    });
    assertSameBytes(StructSchema, struct as never, "a Struct of every kind of Value");
  });

  test("keeps unknown fields, written after the known ones", () => {
    const known = toBinary(TaskSchema, create(TaskSchema, { id: "t", name: "n" }));
    // Field 99, length-delimited "hi", and field 100, varint 150: what a newer schema could have written.
    const withUnknown = new Uint8Array([...known, 0x9a, 0x06, 0x02, 0x68, 0x69, 0xa0, 0x06, 0x96, 0x01]);
    const decoded = fromBinary(TaskSchema, withUnknown);
    assert.equal(decoded.$unknown?.length, 2);
    const bytes = assertSameBytes(TaskSchema, decoded as never, "unknown fields kept");
    assert.deepEqual(Buffer.from(bytes), Buffer.from(withUnknown));
  });

  test("refuses a value out of its type's range with protobuf-es's own message, and encodes the next message cleanly", () => {
    const schema = everyKindSchema();
    const encode = compileBinaryEncoder(schema);
    const cases: Array<[string, unknown]> = [
      ["int32Value", 1.5],
      ["int32Value", 2 ** 31],
      ["uint32Value", -1],
      ["floatValue", 1e39],
      ["repeatedSint32", [1, 2 ** 40]],
      ["int64Value", "12x"],
    ];
    for (const [field, value] of cases) {
      const message = create(schema, {} as never) as Record<string, unknown>;
      message[field] = value;
      const expected = (() => {
        try {
          toBinary(schema, message as never);
        } catch (error) {
          return (error as Error).message;
        }
        return "no error";
      })();
      assert.throws(() => encode(message as never), (error: Error) => error.message === expected, `${field} = ${String(value)}: ${expected}`);
    }
    const clean = create(schema, { stringValue: "after a failure" } as never);
    assert.deepEqual(Buffer.from(encode(clean as never)), Buffer.from(toBinary(schema, clean)));
  });

  test("a message of several MiB grows the buffer, and the buffer goes back to its size after", () => {
    const encode = compileBinaryEncoder(TaskSchema);
    const large = create(TaskSchema, { id: "big", inputs: [{ path: "/in", content: "q".repeat(3 * 1024 * 1024) }] });
    assertSameBytes(TaskSchema, large as never, "3 MiB of content");
    const small = create(TaskSchema, { id: "small", name: "after" });
    assert.deepEqual(Buffer.from(encode(small)), Buffer.from(toBinary(TaskSchema, small)));
  });

  test("each message owns its bytes: a plain Uint8Array over its own memory, not the encoder's buffer", () => {
    const encode = compileBinaryEncoder(TaskSchema);
    const first = encode(create(TaskSchema, { id: "a", name: "small" }));
    const copy = Buffer.from(first);
    encode(create(TaskSchema, { id: "b", name: "overwrites the buffer" }));
    assert.deepEqual(Buffer.from(first), copy, "a later encode leaves earlier bytes alone");
    assert.equal(first.byteLength, first.buffer.byteLength);
    assert.ok(!(first instanceof Buffer));
  });

  test("refuses to compile a schema with a group (delimited encoding), naming the field", () => {
    const file = create(FileDescriptorProtoSchema, {
      name: "test/v1/group.proto",
      package: "test.v1",
      syntax: "proto2",
      messageType: [
        {
          name: "WithGroup",
          field: [{ name: "item", number: 1, type: T.group, label: OPTIONAL, typeName: ".test.v1.WithGroup.Item" }],
          nestedType: [{ name: "Item", field: [{ name: "x", number: 2, type: T.int32, label: OPTIONAL }] }],
        },
      ],
    } as never);
    const schema = createFileRegistry(file, () => undefined).getMessage("test.v1.WithGroup")!;
    assert.throws(() => compileBinaryEncoder(schema), /test\.v1\.WithGroup\.item.*groups \(delimited encoding\) are not supported/);
  });
});
