import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { assertValidTes } from "../support/openapi-validator.js";
import { startComplianceServer, STORES, type ComplianceServer } from "./support/compliance-server.js";
import { lastLog, sh, TesClient, type TaskJson } from "./support/tes-client.js";

const STATES = ["UNKNOWN", "QUEUED", "INITIALIZING", "RUNNING", "PAUSED", "COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED", "CANCELING"];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Every key anywhere in a body, with its JSON path: py-tes hands each object to an attrs
 * constructor, so one key the spec does not define (or one null) raises UnmarshalError.
 */
function walk(value: unknown, path: string, visit: (path: string, value: unknown) => void): void {
  visit(path, value);
  if (Array.isArray(value)) value.forEach((item, index) => walk(item, `${path}[${index}]`, visit));
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) walk(item, `${path}.${key}`, visit);
  }
}

/** What py-tes's models additionally assume of a task: no nulls, names for enums, int64 as strings, RFC 3339 times. */
function assertPyTesReadable(task: TaskJson): void {
  walk(task, "$", (path, value) => {
    assert.notEqual(value, null, `${path} is null`);
    if (/\.size_bytes$/.test(path)) assert.match(value as string, /^\d+$/, `${path} is an int64 string`);
    if (/(^|\.)(start_time|end_time|creation_time)$/.test(path)) assert.match(value as string, RFC3339, `${path} is RFC 3339`);
    if (/\.type$/.test(path) && /\.(inputs|outputs)\[\d+\]\.type$/.test(path)) assert.ok(["FILE", "DIRECTORY"].includes(value as string), `${path}`);
    if (/\.exit_code$/.test(path)) assert.equal(typeof value, "number", `${path} is a JSON number`);
  });
  assert.ok(STATES.includes(task.state), `state ${task.state} is a tesState name`);
}

/** What py-tes does: base paths tried in order /ga4gh/tes/v1, /v1, / (moving on only on a 404). */
for (const store of STORES) {
  describe(`py-tes client behaviour (${store} store)`, () => {
    let server: ComplianceServer;
    let bases: Record<string, TesClient>;
    let tes: TesClient;

    before(async () => {
      server = await startComplianceServer(store, "pytes");
      bases = {
        "/ga4gh/tes/v1": new TesClient(`${server.root}/ga4gh/tes/v1`),
        "/v1": new TesClient(`${server.root}/v1`),
        "/": new TesClient(server.root),
      };
      tes = bases["/ga4gh/tes/v1"] as TesClient;
    });
    after(async () => {
      await server?.stop();
    });

    test("the first base path py-tes probes (/ga4gh/tes/v1) answers, and /v1 and / answer exactly the same", async () => {
      const infos = await Promise.all(Object.values(bases).map((client) => client.request("GET", "/service-info")));
      for (const info of infos) {
        assert.equal(info.status, 200);
        assertValidTes("tesServiceInfo", info.json);
        assert.equal(info.text, infos[0]?.text);
      }

      const ids: string[] = [];
      for (const client of Object.values(bases)) ids.push(await client.createTask({ name: "py-tes base path", executors: [sh("echo hi")] }));
      for (const id of ids) await tes.waitForEnd(id);
      for (const id of ids) {
        const answers = await Promise.all(Object.values(bases).map((client) => client.request("GET", `/tasks/${id}?view=FULL`)));
        for (const answer of answers) {
          assert.equal(answer.status, 200);
          assert.equal(answer.text, answers[0]?.text, "the same task, byte for byte, from every base path");
        }
      }
      const lists = await Promise.all(Object.values(bases).map((client) => client.listTasks({ view: "BASIC", name_prefix: "py-tes base path" })));
      for (const list of lists) assert.deepEqual(list, lists[0]);
      assert.deepEqual(new Set(lists[0]?.tasks.map((task) => task.id)), new Set(ids));
    });

    test("cancel through each base path: 200 {} with no body and no content-type, as py-tes sends it", async () => {
      for (const client of Object.values(bases)) {
        const id = await client.createTask({ executors: [sh("sleep 30")] });
        const reply = await client.cancel(id);
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(reply.json, {});
        assert.ok(["CANCELING", "CANCELED"].includes((await client.getTask(id)).state));
      }
    });

    test("an unknown task is 404 on every base path, so py-tes's fallback ends with an HTTPError", async () => {
      for (const client of Object.values(bases)) {
        const reply = await client.request<{ code: string; message: string }>("GET", "/tasks/no-such-task?view=BASIC");
        assert.equal(reply.status, 404);
      }
    });

    test("a task using every field reads back with only spec keys, no nulls, int64 size_bytes as strings and enums as names, in every view", async () => {
      const files = server.files;
      await mkdir(join(files, "reference", "sub"), { recursive: true });
      await writeFile(join(files, "input.txt"), "from a file url\n");
      await writeFile(join(files, "reference", "a.txt"), "A");
      await writeFile(join(files, "reference", "sub", "b.txt"), "BB");
      const results = join(files, "pytes-results");
      const id = await tes.createTask({
        name: "py-tes every field",
        description: "all the fields py-tes models",
        inputs: [
          { name: "inline", description: "literal content", path: "/data/inline.txt", content: "inline\n" },
          { name: "file", path: "/data/input.txt", url: pathToFileURL(join(files, "input.txt")).href, streamable: false },
          { name: "dir", path: "/data/reference", url: pathToFileURL(join(files, "reference")).href, type: "DIRECTORY" },
        ],
        outputs: [
          { name: "one", path: "/out/one.txt", url: pathToFileURL(join(results, "one.txt")).href },
          { name: "tree", path: "/out/tree", url: pathToFileURL(join(results, "tree")).href, type: "DIRECTORY" },
          { name: "glob", path: "/out/glob/*.csv", path_prefix: "/out/glob/", url: pathToFileURL(join(results, "glob")).href },
        ],
        resources: { cpu_cores: 1, ram_gb: 0.25, disk_gb: 1, preemptible: false, zones: ["local"] },
        executors: [
          sh("cat /data/inline.txt /data/input.txt > /shared/all.txt; ls /data/reference/sub; exit 5", { ignore_error: true }),
          {
            image: "alpine",
            command: ["sh", "-c", 'mkdir -p /out/tree/deep /out/glob; cp /shared/all.txt /out/one.txt; printf 12 > /out/tree/deep/n; printf abc > /out/glob/r1.csv; cat; echo "$GREETING" >&2'],
            workdir: "/shared",
            stdin: "/data/inline.txt",
            stdout: "/out/stdout.txt",
            stderr: "/out/stderr.txt",
            env: { GREETING: "hello" },
          },
        ],
        volumes: ["/shared"],
        tags: { client: "py-tes", empty: "" },
      });
      const full = await tes.waitForEnd(id);
      assert.equal(full.state, "COMPLETE", JSON.stringify(full.logs));
      assertPyTesReadable(full);
      const log = lastLog(full);
      assert.deepEqual(log.logs.map((executor) => executor.exit_code), [5, 0]);
      assert.deepEqual(
        log.outputs.map((output) => [output.path, output.size_bytes]).sort(),
        [["/out/glob/r1.csv", "3"], ["/out/one.txt", "23"], ["/out/tree/deep/n", "2"]],
      );
      assert.equal(log.outputs.find((output) => output.path === "/out/glob/r1.csv")?.url, pathToFileURL(join(results, "glob", "r1.csv")).href);
      for (const view of ["MINIMAL", "BASIC", "FULL"] as const) {
        const task = await tes.getTask(id, view); // validated against the OpenAPI for the view
        assertPyTesReadable(task);
      }
      for (const view of ["MINIMAL", "BASIC", "FULL"] as const) {
        for (const task of (await tes.listTasks({ view, name_prefix: "py-tes every field" })).tasks) assertPyTesReadable(task);
      }
    });

    test("type is filled in where the client left it off: on inputs at once, on outputs once the run found what they are; DIRECTORY is kept", async () => {
      const id = await tes.createTask({
        inputs: [{ path: "/data/a.txt", content: "a" }],
        outputs: [
          { path: "/out/a.txt", url: pathToFileURL(join(server.files, "typed", "a.txt")).href },
          { path: "/out/u", url: pathToFileURL(join(server.files, "typed", "u")).href },
          { path: "/out/d", url: pathToFileURL(join(server.files, "typed", "d")).href, type: "DIRECTORY" },
        ],
        executors: [sh("sleep 0.5; mkdir -p /out/d /out/u; cp /data/a.txt /out/a.txt; cp /data/a.txt /out/d/; cp /data/a.txt /out/u/")],
      });
      for (const view of ["BASIC", "FULL"] as const) {
        const task = await tes.getTask(id, view);
        assert.deepEqual(task.inputs?.map((input) => input.type), ["FILE"]);
        assert.deepEqual(task.outputs?.map((output) => output.type), [undefined, undefined, "DIRECTORY"], "an output's type is not known before the run");
      }
      assert.equal((await tes.waitForEnd(id)).state, "COMPLETE");
      for (const view of ["BASIC", "FULL"] as const) {
        const task = await tes.getTask(id, view);
        assert.deepEqual(task.outputs?.map((output) => output.type), ["FILE", "DIRECTORY", "DIRECTORY"]);
      }
    });

    test("wait(): polling with view=MINIMAL ends on the first state other than QUEUED, INITIALIZING or RUNNING, and that state is final", async () => {
      const id = await tes.createTask({ executors: [sh("sleep 0.3; exit 1")] });
      let state = "";
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
        state = (await tes.getTask(id, "MINIMAL")).state;
        if (!["QUEUED", "INITIALIZING", "RUNNING"].includes(state)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(state, "EXECUTOR_ERROR");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await tes.getTask(id, "BASIC")).state, "EXECUTOR_ERROR");
    });
  });
}
