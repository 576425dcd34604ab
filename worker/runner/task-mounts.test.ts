import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FileType, TaskSchema, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { hostPathOf, planMounts, TaskPathError, wildcardBase } from "./task-mounts.js";

const task = (init: Parameters<typeof create<typeof TaskSchema>>[1]) => create(TaskSchema, init) as Task;
const summary = (mounts: ReturnType<typeof planMounts>) => mounts.map((m) => `${m.kind} ${m.containerPath} <- ${m.hostPath}`);

test("directories holding task files are mounted whole; files inside them are not mounted again", () => {
  const mounts = planMounts(
    task({
      volumes: ["/shared"],
      inputs: [
        { path: "/data/in/a.txt", content: "a" },
        { path: "/shared/seed.txt", content: "b" },
        { path: "/ref", type: FileType.DIRECTORY, url: "file:///x" },
      ],
      outputs: [
        { path: "/data/out/result.txt", url: "file:///y" },
        { path: "/data/out/logs/*.log", pathPrefix: "/data/out/logs/", url: "file:///z" },
      ],
      executors: [{ image: "i", command: ["c"], stdout: "/data/out/stdout.txt", stdin: "/data/in/a.txt" }],
    }),
    "/w/root",
  );
  assert.deepEqual(summary(mounts), [
    "file /data/in/a.txt <- /w/root/data/in/a.txt",
    "directory /data/out <- /w/root/data/out",
    "directory /ref <- /w/root/ref",
    "directory /shared <- /w/root/shared",
  ]);
});

test("a file directly under a system directory is mounted alone, never its parent", () => {
  const mounts = planMounts(
    task({ outputs: [{ path: "/result.txt", url: "file:///y" }], executors: [{ image: "i", command: ["c"], stderr: "/etc/err.txt" }] }),
    "/w/root",
  );
  assert.deepEqual(summary(mounts), ["file /etc/err.txt <- /w/root/etc/err.txt", "file /result.txt <- /w/root/result.txt"]);
});

test("a volume or directory that would hide a system directory is refused with its name", () => {
  assert.throws(() => planMounts(task({ volumes: ["/usr"] }), "/w/root"), (error: Error) =>
    error instanceof TaskPathError && /volume "\/usr" would hide the system directory \/usr/.test(error.message),
  );
});

test("paths must be absolute and stay under the root", () => {
  assert.equal(hostPathOf("/w/root", "/a/./b/../c"), "/w/root/a/c");
  assert.throws(() => hostPathOf("/w/root", "relative/x"), /not absolute/);
  assert.equal(hostPathOf("/w/root", "/../../etc/passwd"), "/w/root/etc/passwd");
});

test("the base of a wildcard path is the directory above its first wildcard", () => {
  assert.equal(wildcardBase("/data/out/*.txt"), "/data/out");
  assert.equal(wildcardBase("/data/*/x/*.txt"), "/data");
  assert.equal(wildcardBase("/*.txt"), "/");
});
