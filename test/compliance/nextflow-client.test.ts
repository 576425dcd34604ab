import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { leftoverProcesses } from "../support/leftover-processes.js";
import { startComplianceServer, STORES, type ComplianceServer } from "./support/compliance-server.js";
import { lastLog, sh, TesClient, type TaskJson } from "./support/tes-client.js";

/**
 * What Nextflow's TES executor (nf-ga4gh) does: it stages .command.sh/.command.run as inputs into
 * a work directory that is also a volume, asks for cpu_cores/ram_gb/disk_gb/preemptible, collects
 * .exitcode and the process outputs (globs with a path_prefix), polls GET /tasks/{id} with no
 * view (so MINIMAL), reads .exitcode once the state is final, and cancels with POST :cancel,
 * also for tasks that have already ended.
 */
for (const store of STORES) {
  describe(`Nextflow TES executor behaviour (${store} store)`, () => {
    let server: ComplianceServer;
    let tes: TesClient;

    before(async () => {
      server = await startComplianceServer(store, "nextflow");
      tes = new TesClient(server.api);
    });
    after(async () => {
      await server?.stop();
    });

    /** A Nextflow process task: its work directory on "shared storage" (a file:// dir), staged in and out. */
    async function nextflowTask(script: string) {
      const hash = randomUUID().replaceAll("-", "");
      const workDir = join(server.files, "work", hash.slice(0, 2), hash.slice(2));
      await mkdir(workDir, { recursive: true });
      await writeFile(join(workDir, ".command.sh"), `#!/bin/bash -ue\n${script}\n`);
      await writeFile(
        join(workDir, ".command.run"),
        "#!/bin/bash\ncd /work\n/bin/bash -ue .command.sh > .command.out 2> .command.err\nrc=$?\nprintf $rc > .exitcode\nexit $rc\n",
      );
      const url = (name: string) => pathToFileURL(join(workDir, name)).href;
      const task = {
        name: `nf-${hash.slice(0, 8)}`,
        executors: [{ image: "quay.io/nextflow/bash", command: ["/bin/bash", "-c", "bash /work/.command.run"], workdir: "/work" }],
        inputs: [
          { name: ".command.sh", url: url(".command.sh"), path: "/work/.command.sh", type: "FILE" },
          { name: ".command.run", url: url(".command.run"), path: "/work/.command.run", type: "FILE" },
        ],
        outputs: [
          { name: ".exitcode", url: url(".exitcode"), path: "/work/.exitcode", type: "FILE" },
          { name: ".command.out", url: url(".command.out"), path: "/work/.command.out", type: "FILE" },
          { name: ".command.err", url: url(".command.err"), path: "/work/.command.err", type: "FILE" },
          { name: "results", url: `${pathToFileURL(workDir).href}/`, path: "/work/results/*.txt", path_prefix: "/work/", type: "FILE" },
        ],
        resources: { cpu_cores: 1, ram_gb: 0.5, disk_gb: 1.0, preemptible: false },
        volumes: ["/work"],
      };
      return { task, workDir };
    }

    /** Nextflow's poll: GET /tasks/{id} with no view parameter at all, until the state is final. */
    async function pollLikeNextflow(id: string): Promise<TaskJson> {
      for (const deadline = Date.now() + 30_000; ; ) {
        const reply = await tes.request<TaskJson>("GET", `/tasks/${id}`);
        assert.equal(reply.status, 200);
        assert.deepEqual(Object.keys(reply.json).sort(), ["id", "state"], "no view means MINIMAL: only id and state");
        if (["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"].includes(reply.json.state)) return reply.json;
        assert.ok(Date.now() < deadline, `task ${id} still ${reply.json.state}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    test("a process task with resources, a work-dir volume and wildcard outputs completes; .exitcode and the globbed results land in the work dir", async () => {
      const { task, workDir } = await nextflowTask("mkdir -p results; echo one > results/a.txt; echo two > results/b.txt; echo skip > results/c.csv; echo done");
      const id = await tes.createTask(task);
      const polled = await pollLikeNextflow(id);
      assert.equal(polled.state, "COMPLETE");
      assert.equal(await readFile(join(workDir, ".exitcode"), "utf8"), "0");
      assert.equal(await readFile(join(workDir, ".command.out"), "utf8"), "done\n");
      assert.deepEqual((await readdir(join(workDir, "results"))).sort(), ["a.txt", "b.txt"]);
      assert.equal(await readFile(join(workDir, "results", "a.txt"), "utf8"), "one\n");

      const basic = await tes.getTask(id, "BASIC");
      assert.deepEqual(basic.resources, { cpu_cores: 1, preemptible: false, ram_gb: 0.5, disk_gb: 1 });
      assert.deepEqual(basic.volumes, ["/work"]);
      assert.deepEqual(basic.outputs?.at(-1), { name: "results", url: pathToFileURL(workDir).href + "/", path: "/work/results/*.txt", path_prefix: "/work/", type: "FILE" });
      const outputs = lastLog(basic).outputs.map((output) => [output.path, output.url, output.size_bytes]).sort();
      assert.deepEqual(outputs, [
        ["/work/.command.err", pathToFileURL(join(workDir, ".command.err")).href, "0"],
        ["/work/.command.out", pathToFileURL(join(workDir, ".command.out")).href, "5"],
        ["/work/.exitcode", pathToFileURL(join(workDir, ".exitcode")).href, "1"],
        ["/work/results/a.txt", pathToFileURL(join(workDir, "results", "a.txt")).href, "4"],
        ["/work/results/b.txt", pathToFileURL(join(workDir, "results", "b.txt")).href, "4"],
      ]);
    });

    test("a failing process: EXECUTOR_ERROR from the no-view poll, and FULL carries its exit code", async () => {
      const { task } = await nextflowTask("echo failing >&2; exit 3");
      const id = await tes.createTask(task);
      assert.equal((await pollLikeNextflow(id)).state, "EXECUTOR_ERROR");
      const full = await tes.getTask(id, "FULL");
      assert.equal(lastLog(full).logs[0]?.exit_code, 3);
    });

    test("cancel of a task that has ended answers 200 {} and leaves its state as it was", async () => {
      const [done, failed] = await Promise.all([
        tes.createTask({ executors: [sh("true")] }),
        tes.createTask({ executors: [sh("exit 1")] }),
      ]);
      for (const [id, state] of [[done, "COMPLETE"], [failed, "EXECUTOR_ERROR"]] as const) {
        const before = await tes.waitForEnd(id);
        assert.equal(before.state, state);
        for (const suffix of [":cancel", "%3Acancel"]) {
          const reply = await tes.cancel(id, suffix);
          assert.equal(reply.status, 200, reply.text);
          assert.deepEqual(reply.json, {});
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.deepEqual(await tes.getTask(id, "FULL"), before, "a finished task does not change on cancel");
      }
    });

    test("kill of a running process: cancel stops it (no process left behind), the no-view poll sees CANCELED, and a second cancel is a 200 no-op", async () => {
      const marker = `7.${process.pid}${Math.floor(Math.random() * 1000)}`;
      const id = await tes.createTask({ executors: [sh(`sleep ${marker}; echo never`)] });
      for (let waited = 0; (await leftoverProcesses(`sleep ${marker}`)).length === 0; waited += 50) {
        assert.ok(waited < 10_000, "the executor did not start");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const canceledAt = Date.now();
      const reply = await tes.cancel(id);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.json, {});
      assert.equal((await pollLikeNextflow(id)).state, "CANCELED");
      assert.ok(Date.now() - canceledAt < 5000, `cancel took ${Date.now() - canceledAt} ms`);
      assert.deepEqual(await leftoverProcesses(`sleep ${marker}`), []);
      const again = await tes.cancel(id);
      assert.equal(again.status, 200);
      assert.equal((await tes.getTask(id)).state, "CANCELED");
    });

    test("the JSON a generated Java client sends (application/json; charset=utf-8) is accepted", async () => {
      const reply = await tes.request<{ id: string }>("POST", "/tasks", {
        body: JSON.stringify({ name: "nf-java", executors: [{ image: "alpine", command: ["true"] }], resources: { cpu_cores: 1, preemptible: true } }),
        headers: { "content-type": "application/json; charset=utf-8" },
      });
      assert.equal(reply.status, 200, reply.text);
      assert.equal((await tes.waitForEnd(reply.json.id)).state, "COMPLETE");
    });
  });
}
