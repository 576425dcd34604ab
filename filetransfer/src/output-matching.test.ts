import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { makeTempDir } from "../test/support/temp-dir.js";
import { expandPattern, hasWildcards } from "./output-matching.js";

describe("output wildcards (POSIX pathname patterns)", () => {
  let root: { path: string; remove: () => Promise<void> };
  before(async () => {
    root = await makeTempDir("glob");
    for (const file of ["a.txt", "b.txt", "c.log", ".hidden.txt", "1.txt", "{a,b}.txt", "sub/d.txt", "sub/deeper/e.txt"]) {
      await mkdir(path.dirname(path.join(root.path, "out", file)), { recursive: true });
      await writeFile(path.join(root.path, "out", file), file);
    }
  });
  after(() => root.remove());

  const names = async (pattern: string): Promise<string[]> => (await expandPattern(root.path, pattern)).map((m) => m.containerPath);

  it("* matches within one segment and never a leading dot", async () => {
    assert.deepEqual(await names("/out/*.txt"), ["/out/1.txt", "/out/a.txt", "/out/b.txt", "/out/{a,b}.txt"]);
    assert.deepEqual(await names("/out/.*.txt"), ["/out/.hidden.txt"]);
    assert.deepEqual(await names("/out/*/*.txt"), ["/out/sub/d.txt"]);
  });

  it("supports ?, bracket expressions, negation with ! and character classes", async () => {
    assert.deepEqual(await names("/out/?.txt"), ["/out/1.txt", "/out/a.txt", "/out/b.txt"]);
    assert.deepEqual(await names("/out/[ab].txt"), ["/out/a.txt", "/out/b.txt"]);
    assert.deepEqual(await names("/out/[!ab].txt"), ["/out/1.txt"]);
    assert.deepEqual(await names("/out/[[:digit:]].txt"), ["/out/1.txt"]);
  });

  it("gives braces and ** no special meaning, as POSIX says", async () => {
    assert.deepEqual(await names("/out/{a,*}.txt"), ["/out/{a,b}.txt"]);
    assert.deepEqual(await names("/out/**"), ["/out/1.txt", "/out/a.txt", "/out/b.txt", "/out/c.log", "/out/sub", "/out/{a,b}.txt"]);
  });

  it("reports matching directories as such, and matches nothing without error", async () => {
    const [sub] = await expandPattern(root.path, "/out/s*");
    assert.equal(sub?.isDirectory, true);
    assert.deepEqual(await names("/nowhere/*.txt"), []);
  });

  it("tells patterns from plain paths, honouring backslash escapes", () => {
    assert.equal(hasWildcards("/out/*.txt"), true);
    assert.equal(hasWildcards("/out/[ab]"), true);
    assert.equal(hasWildcards("/out/a.txt"), false);
    assert.equal(hasWildcards("/out/\\*.txt"), false);
  });
});
