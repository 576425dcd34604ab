import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { startComplianceServer, STORES, type ComplianceServer } from "./support/compliance-server.js";
import { lastLog, TesClient } from "./support/tes-client.js";

/**
 * What Cromwell's TES backend sends and expects: its JSON writer emits `null` for unset options
 * (tag values included), it polls with view=MINIMAL, reads the rc/stdout/stderr files it listed as
 * outputs, and fetches FULL for the failure reason. Some versions and proxies write camelCase keys.
 */
for (const store of STORES) {
  describe(`Cromwell TES backend behaviour (${store} store)`, () => {
    let server: ComplianceServer;
    let tes: TesClient;

    before(async () => {
      server = await startComplianceServer(store, "cromwell");
      tes = new TesClient(server.api);
    });
    after(async () => {
      await server?.stop();
    });

    /** A call as Cromwell builds it: script as a file input, rc/stdout/stderr as outputs, a glob directory. */
    async function cromwellTask(script: string, overrides: Record<string, unknown> = {}) {
      const callRoot = join(server.files, "cromwell-executions", randomUUID());
      await mkdir(callRoot, { recursive: true });
      await writeFile(join(callRoot, "script"), `#!/bin/bash\n${script}\n`);
      const url = (name: string) => pathToFileURL(join(callRoot, name)).href;
      return {
        callRoot,
        task: {
          name: "wf_hello.hello",
          description: "wf_hello.hello:NA:1",
          inputs: [{ name: "commandScript", description: "wf_hello.hello.commandScript", url: url("script"), path: "/cromwell_root/script", type: "FILE", content: null }],
          outputs: [
            { name: "rc", url: url("rc"), path: "/cromwell_root/rc", type: "FILE" },
            { name: "stdout", url: url("stdout"), path: "/cromwell_root/stdout", type: "FILE" },
            { name: "stderr", url: url("stderr"), path: "/cromwell_root/stderr", type: "FILE" },
            { name: "glob-abc", url: url("glob-abc"), path: "/cromwell_root/glob-abc", type: "DIRECTORY" },
          ],
          resources: { cpu_cores: 1, ram_gb: 0.5, disk_gb: 1.0, preemptible: false, zones: null, backend_parameters: null, backend_parameters_strict: null },
          executors: [
            {
              image: "ubuntu:latest",
              command: ["/bin/bash", "-c", "mkdir -p /cromwell_root/glob-abc; /bin/bash /cromwell_root/script > /cromwell_root/stdout 2> /cromwell_root/stderr; echo $? > /cromwell_root/rc"],
              workdir: null,
              stdout: null,
              stderr: null,
              stdin: null,
              env: null,
            },
          ],
          volumes: ["/cromwell_root"],
          tags: { "cromwell-workflow-id": "cromwell-3a1b", "wdl-call-alias": "hello", "wdl-task-name": null },
          id: null,
          state: null,
          logs: null,
          creation_time: null,
          ...overrides,
        },
      };
    }

    test("a task with JSON null for unset fields and a null tag value is accepted; the tag reads back as \"\"", async () => {
      const { task } = await cromwellTask("echo hello");
      const id = await tes.createTask(task);
      const basic = await tes.getTask(id, "BASIC");
      assert.deepEqual(basic.tags, { "cromwell-workflow-id": "cromwell-3a1b", "wdl-call-alias": "hello", "wdl-task-name": "" });
      assert.deepEqual(basic.executors?.[0] && Object.keys(basic.executors[0]).sort(), ["command", "image"]);
      assert.equal((await tes.waitForEnd(id)).state, "COMPLETE");
      const byTag = await tes.listTasks({ tag_key: "wdl-task-name", tag_value: "" });
      assert.ok(byTag.tasks.some((listed) => listed.id === id), "found by the tag whose value was null");
    });

    test("polling with view=MINIMAL sees only id and state until the end; the rc, stdout and stderr outputs are where Cromwell reads them", async () => {
      const { task, callRoot } = await cromwellTask("echo hello; echo oops >&2; mkdir -p /cromwell_root/glob-abc; printf g > /cromwell_root/glob-abc/g1");
      const id = await tes.createTask(task);
      const seen = new Set<string>();
      for (const deadline = Date.now() + 20_000; ; ) {
        const minimal = await tes.getTask(id, "MINIMAL"); // only id and state, checked inside
        seen.add(minimal.state);
        if (["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"].includes(minimal.state)) break;
        assert.ok(Date.now() < deadline, `still ${minimal.state}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(seen.has("COMPLETE"), [...seen].join());
      assert.equal((await readFile(join(callRoot, "rc"), "utf8")).trim(), "0");
      assert.equal(await readFile(join(callRoot, "stdout"), "utf8"), "hello\n");
      assert.equal(await readFile(join(callRoot, "stderr"), "utf8"), "oops\n");
      assert.deepEqual(await readdir(join(callRoot, "glob-abc")), ["g1"]);
      const full = await tes.getTask(id, "FULL");
      assert.deepEqual(lastLog(full).outputs.map((output) => output.path).sort(), ["/cromwell_root/glob-abc/g1", "/cromwell_root/rc", "/cromwell_root/stderr", "/cromwell_root/stdout"]);
    });

    test("camelCase keys (cpuCores, ramGb, diskGb, ignoreError, pathPrefix, backendParametersStrict) are read as their snake_case fields and answered in snake_case", async () => {
      const out = pathToFileURL(join(server.files, "camel")).href;
      const id = await tes.createTask({
        name: "camel",
        resources: { cpuCores: 1, ramGb: 0.5, diskGb: 2, preemptible: true, backendParameters: { unsupported: "x" }, backendParametersStrict: false },
        executors: [{ image: "alpine", command: ["sh", "-c", "mkdir -p /out; printf a > /out/a.txt; exit 3"], ignoreError: true }],
        outputs: [{ path: "/out/*.txt", pathPrefix: "/out/", url: out }],
      });
      const task = await tes.waitForEnd(id);
      assert.equal(task.state, "COMPLETE", JSON.stringify(task.logs));
      assert.deepEqual(task.resources, { cpu_cores: 1, preemptible: true, ram_gb: 0.5, disk_gb: 2 });
      assert.equal(task.executors?.[0]?.ignore_error, true);
      assert.equal(task.outputs?.[0]?.path_prefix, "/out/");
      assert.equal(lastLog(task).logs[0]?.exit_code, 3);
      assert.equal(await readFile(join(server.files, "camel", "a.txt"), "utf8"), "a");

      const strict = await tes.postTask({
        executors: [{ image: "alpine", command: ["true"] }],
        resources: { backendParameters: { unsupported: "x" }, backendParametersStrict: true },
      });
      assert.equal(strict.status, 400, "the camelCase strict flag is honoured");
    });

    test("a failed call: MINIMAL says EXECUTOR_ERROR, and FULL gives the exit code and the reason in system_logs", async () => {
      const { task } = await cromwellTask("exit 7", {
        executors: [{ image: "ubuntu:latest", command: ["/bin/bash", "/cromwell_root/script"], stdout: "/cromwell_root/stdout", stderr: "/cromwell_root/stderr" }],
        outputs: [],
      });
      const id = await tes.createTask(task);
      const full = await tes.waitForEnd(id);
      assert.equal((await tes.getTask(id, "MINIMAL")).state, "EXECUTOR_ERROR");
      assert.equal(full.state, "EXECUTOR_ERROR");
      assert.equal(lastLog(full).logs[0]?.exit_code, 7);
      assert.match(lastLog(full).system_logs?.join("\n") ?? "", /exited with code 7/);
    });
  });
}
