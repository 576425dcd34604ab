import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskSchema, type Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { findDisallowedFileUrls } from "./file-url-policy.js";

let allowed: string;
before(async () => {
  allowed = await mkdtemp(path.join(os.tmpdir(), "tes-allowed-"));
  await mkdir(path.join(allowed, "data"));
  await symlink("/etc", path.join(allowed, "escape"));
});
after(() => rm(allowed, { recursive: true, force: true }));

const task = (inputs: string[], outputs: string[] = []) =>
  create(TaskSchema, {
    inputs: inputs.map((url) => ({ url, path: "/in" })),
    outputs: outputs.map((url) => ({ url, path: "/out" })),
    executors: [{ image: "i", command: ["c"] }],
  }) as Task;

test("file URLs and bare paths under an allowed directory pass; other schemes are not its business", async () => {
  const problems = await findDisallowedFileUrls(
    task([`file://${allowed}/data/a.txt`, `${allowed}/data/b.txt`, "https://example.org/x", "s3://b/k"], [`file://${allowed}/new/dir/out.txt`]),
    [allowed],
  );
  assert.deepEqual(problems, []);
});

test("a path outside, a .. that climbs out, a symlink that leads out, or another host is refused, naming the field", async () => {
  const problems = await findDisallowedFileUrls(
    task(["file:///etc/passwd", `file://${allowed}/../x`, `file://${allowed}/escape/passwd`], ["file://server/share/out"]),
    [allowed],
  );
  assert.equal(problems.length, 4);
  assert.match(problems[0] ?? "", /^inputs\[0\]\.url: the local path \/etc\/passwd is outside the directories this server may use/);
  assert.match(problems[1] ?? "", /^inputs\[1\]\.url:/);
  assert.match(problems[2] ?? "", /^inputs\[2\]\.url:/);
  assert.match(problems[3] ?? "", /^outputs\[0\]\.url: file URLs must name this host/);
});

test("with no allowed directory, every local file is refused and the message says why", async () => {
  const [problem] = await findDisallowedFileUrls(task([`file://${allowed}/data/a.txt`]), []);
  assert.match(problem ?? "", /TES_ALLOWED_DIRS is empty/);
});

test("an input with content ignores its url", async () => {
  const withContent = create(TaskSchema, { inputs: [{ url: "file:///etc/passwd", content: "x", path: "/in" }] }) as Task;
  assert.deepEqual(await findDisallowedFileUrls(withContent, []), []);
});
