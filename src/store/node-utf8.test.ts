import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";
import { TaskSchema, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { decodeTask, encodeTask } from "./task-document.js";

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

describe("task documents encode strings through Node's Buffer", () => {
  const strings = ["", "plain ascii", "grüße, 日本語, emoji 🧬", "unpaired \ud800 surrogate \udfff", "x".repeat(10_000), "é".repeat(5000)];

  test("the bytes are exactly those of protobuf-es's standard encoder, and decode to the same task", () => {
    for (const text of strings) {
      const task = create(TaskSchema, { id: "t", name: text, description: text, tags: { [text]: text }, executors: [{ image: text, command: [text, text] }] });
      const bytes = encodeTask(task);
      assert.deepEqual(bytes, standardBytes(task), `same bytes for a ${text.length}-character string`);
      assert.equal(decodeTask(bytes).name, text.replace(UNPAIRED_SURROGATE, "\ufffd"));
    }
  });

  test("each document owns its bytes, never a slice of Buffer's shared slab", () => {
    const first = encodeTask(create(TaskSchema, { id: "a", name: "small" }));
    const second = encodeTask(create(TaskSchema, { id: "b", name: "small too" }));
    assert.equal(first.byteLength, first.buffer.byteLength);
    assert.equal(second.byteLength, second.buffer.byteLength);
    assert.ok(!(first instanceof Buffer), "a plain Uint8Array, as before");
  });
});
