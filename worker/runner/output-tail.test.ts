import assert from "node:assert/strict";
import { test } from "node:test";
import { OutputTail } from "./output-tail.js";

test("keeps the last bytes across chunks", () => {
  const tail = new OutputTail(5);
  for (const chunk of ["abc", "defg", "hi"]) tail.push(Buffer.from(chunk));
  assert.equal(tail.text(), "efghi");
});

test("a tail that starts inside a multi-byte character starts at the next character", () => {
  const tail = new OutputTail(4);
  tail.push(Buffer.from("aé€")); // é is 2 bytes, € is 3: the last 4 bytes cut é in half.
  assert.equal(tail.text(), "€");
});

test("a limit of zero keeps nothing", () => {
  const tail = new OutputTail(0);
  tail.push(Buffer.from("anything"));
  assert.equal(tail.text(), "");
});
