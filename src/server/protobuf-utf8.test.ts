import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";
import { TaskSchema, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import "./protobuf-utf8.js";

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The bytes protobuf-es writes with its own TextEncoder, for comparison. */
function standardBytes(task: Task): Uint8Array {
  const configured = getTextEncoding();
  const encoder = new TextEncoder();
  configureTextEncoding({ ...configured, encodeUtf8: (text) => encoder.encode(text) });
  try {
    return toBinary(TaskSchema, task);
  } finally {
    configureTextEncoding(configured);
  }
}

describe("protobuf-es encodes strings through Node's Buffer once the module is loaded", () => {
  const strings = ["", "plain ascii", "grüße, 日本語, emoji 🧬", "unpaired \ud800 surrogate \udfff", "x".repeat(10_000), "é".repeat(5000)];

  test("the bytes are exactly those of protobuf-es's standard encoder, and decode to the same task", () => {
    for (const text of strings) {
      const task = create(TaskSchema, { id: "t", name: text, description: text, tags: { [text]: text }, executors: [{ image: text, command: [text, text] }] });
      const bytes = toBinary(TaskSchema, task);
      assert.deepEqual(bytes, standardBytes(task), `same bytes for a ${text.length}-character string`);
      assert.equal(fromBinary(TaskSchema, bytes).name, text.replace(UNPAIRED_SURROGATE, "\ufffd"));
    }
  });

  test("each message owns its bytes, never a slice of Buffer's shared slab", () => {
    const first = toBinary(TaskSchema, create(TaskSchema, { id: "a", name: "small" }));
    const second = toBinary(TaskSchema, create(TaskSchema, { id: "b", name: "small too" }));
    assert.equal(first.byteLength, first.buffer.byteLength);
    assert.equal(second.byteLength, second.buffer.byteLength);
    assert.ok(!(first instanceof Buffer), "a plain Uint8Array, as before");
  });
});
