import { create } from "@bufbuild/protobuf";
import { TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { runTask } from "./run-task.js";
import { detectRuntime } from "./runtimes/detect-runtime.js";
const r = await runTask(create(TaskSchema, { inputs: [{ path: "/data/in/g.txt", content: "hi" }], executors: [{ image: "x", command: ["sh", "-c", "id; ls -la /data /data/in; cat /data/in/g.txt"] }] }), { workDir: "/tmp/zzp-priv/a", attemptId: "a", runtime: () => detectRuntime("bwrap", { network: false, hiddenPaths: [] }), tailBytes: 1000 });
console.log(JSON.stringify(r.executors, null, 1));
