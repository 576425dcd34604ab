import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttemptResult } from "../backends/compute-backend.js";
import { parseResultDocument, toResultDocument } from "./result-document.js";

test("a result survives the round trip through JSON, sizes as decimal strings", () => {
  const result: AttemptResult = {
    outcome: "complete",
    startTime: "2026-01-01T00:00:00.000Z",
    endTime: "2026-01-01T00:00:01.000Z",
    executors: [{ exitCode: 0, stdout: "hi\n", stderr: "" }],
    outputs: [{ url: "file:///x/y", path: "/y", sizeBytes: 9007199254740993n }],
    systemLogs: ["note"],
  };
  const text = JSON.stringify(toResultDocument(result));
  assert.match(text, /"sizeBytes":"9007199254740993"/);
  assert.deepEqual(parseResultDocument(text), result);
  assert.ok(!text.includes("inputBytes"), "no inputBytes is written when the result has none");
  assert.equal("inputBytes" in parseResultDocument(text), false, "a version 1 document without inputBytes still reads");
});

test("the input bytes survive the round trip as a decimal string", () => {
  const result: AttemptResult = {
    outcome: "complete",
    executors: [],
    outputs: [],
    inputBytes: 9007199254740993n,
    systemLogs: [],
  };
  const text = JSON.stringify(toResultDocument(result));
  assert.match(text, /"inputBytes":"9007199254740993"/);
  assert.deepEqual(parseResultDocument(text), result);
});

test("an inputBytes that is not a decimal count is refused", () => {
  for (const bad of ['"-1"', '"1.5"', '"abc"', "12"]) {
    assert.throws(
      () => parseResultDocument(`{"version":1,"outcome":"complete","executors":[],"outputs":[],"systemLogs":[],"inputBytes":${bad}}`),
      /inputBytes that is not a decimal string/,
      bad,
    );
  }
});

test("anything that is not a result document is refused clearly", () => {
  assert.throws(() => parseResultDocument('{"outcome":"complete"}'), /not a version 1 result document/);
  assert.throws(() => parseResultDocument('{"version":1,"outcome":"done"}'), /not a version 1 result document/);
  assert.throws(
    () => parseResultDocument('{"version":1,"outcome":"complete","executors":[{}],"outputs":[],"systemLogs":[]}'),
    /executor without exitCode/,
  );
});
