import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { assertValidTes } from "../support/openapi-validator.js";
import { startComplianceServer, STORES, type ComplianceServer } from "./support/compliance-server.js";
import { lastLog, sh, TesClient } from "./support/tes-client.js";

/**
 * What the ELIXIR TES compliance suite (elixir-cloud-aai/openapi-test-runner) checks, job by job,
 * against a real `tes serve`: every 200 body validated against the OpenAPI, as its pydantic models do.
 */
for (const store of STORES) {
  describe(`ELIXIR TES compliance suite checks (${store} store)`, () => {
    let server: ComplianceServer;
    let tes: TesClient;

    before(async () => {
      server = await startComplianceServer(store, "elixir");
      tes = new TesClient(server.api);
    });
    after(async () => {
      await server?.stop();
    });

    test("service_info: id, name, type org.ga4gh/tes/1.1.0, organization, version; backend parameter keys as a list", async () => {
      const reply = await tes.request<Record<string, unknown>>("GET", "/service-info");
      assert.equal(reply.status, 200);
      assert.match(reply.headers.get("content-type") ?? "", /^application\/json/);
      assertValidTes("tesServiceInfo", reply.json);
      const info = reply.json;
      assert.deepEqual(info.type, { group: "org.ga4gh", artifact: "tes", version: "1.1.0" });
      for (const key of ["id", "name", "version"]) assert.ok(typeof info[key] === "string" && info[key] !== "", key);
      const organization = info.organization as { name: string; url: string };
      assert.ok(organization.name !== "");
      assert.doesNotThrow(() => new URL(organization.url), "organization.url is a URL");
      for (const key of ["contactUrl", "documentationUrl"]) {
        // pydantic AnyUrl: a mailto: contactUrl fails the suite.
        if (info[key] !== undefined) assert.match(info[key] as string, /^https?:\/\//, key);
      }
      if (info.tesResources_backend_parameters !== undefined) assert.ok(Array.isArray(info.tesResources_backend_parameters));
      if (info.storage !== undefined) assert.ok(Array.isArray(info.storage));
    });

    test("create_task: 200 with exactly {\"id\"}; the task is then readable and QUEUED or later", async () => {
      const id = await tes.createTask({
        name: "CompTest",
        description: "CompTest",
        executors: [{ image: "alpine", command: ["echo", "hello"] }],
        resources: { cpu_cores: 1, preemptible: false, ram_gb: 0.25, disk_gb: 1, zones: ["us-west-1"] },
      });
      const task = await tes.getTask(id);
      assert.equal(task.id, id);
      assert.ok(["QUEUED", "INITIALIZING", "RUNNING", "COMPLETE"].includes(task.state), task.state);
      assert.equal((await tes.waitForEnd(id)).state, "COMPLETE");
    });

    test("get_task: MINIMAL (also the default) is only id and state; BASIC has no stdout, stderr, input content or system_logs; FULL has them", async () => {
      const id = await tes.createTask({
        name: "CompTest views",
        inputs: [{ path: "/data/file1", content: "hello compliance\n" }],
        executors: [sh("cat /data/file1; echo to-stderr >&2")],
      });
      const full = await tes.waitForEnd(id);
      assert.equal(full.state, "COMPLETE", JSON.stringify(full.logs));

      assert.deepEqual(await tes.getTask(id), { id, state: "COMPLETE" });
      assert.deepEqual(await tes.getTask(id, "MINIMAL"), { id, state: "COMPLETE" });

      const basic = await tes.getTask(id, "BASIC"); // the view checks run inside getTask
      assert.equal(basic.name, "CompTest views");
      assert.deepEqual(basic.inputs, [{ path: "/data/file1", type: "FILE" }]);
      assert.deepEqual(lastLog(basic).logs.map((log) => log.exit_code), [0]);
      assert.ok(basic.creation_time !== undefined);

      assert.equal(full.inputs?.[0]?.content, "hello compliance\n");
      assert.equal(lastLog(full).logs[0]?.stdout, "hello compliance\n");
      assert.equal(lastLog(full).logs[0]?.stderr, "to-stderr\n");
      assert.ok(Array.isArray(lastLog(full).system_logs));
    });

    test("list_tasks: every view validates; page_size=1 gives a next_page_token and the next page holds exactly 1 task", async () => {
      await tes.createTask({ name: "CompTest page 1", executors: [{ image: "alpine", command: ["true"] }] });
      await tes.createTask({ name: "CompTest page 2", executors: [{ image: "alpine", command: ["true"] }] });
      for (const view of ["MINIMAL", "BASIC", "FULL"] as const) await tes.listTasks({ view });

      const first = await tes.listTasks({ view: "MINIMAL", page_size: 1 });
      assert.equal(first.tasks.length, 1);
      assert.ok(typeof first.next_page_token === "string" && first.next_page_token !== "", "a next_page_token after page_size=1");
      const second = await tes.listTasks({ view: "MINIMAL", page_size: 1, page_token: first.next_page_token });
      assert.equal(second.tasks.length, 1);
      assert.notEqual(second.tasks[0]?.id, first.tasks[0]?.id);
    });

    test("list_tasks paging: following next_page_token with a filter visits every task once, newest first, and the last page has no token", async () => {
      const name = `CompTest paging ${randomUUID()}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await tes.createTask({ name, executors: [{ image: "alpine", command: ["true"] }] }));
      const seen: string[] = [];
      let token: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await tes.listTasks({ view: "BASIC", name_prefix: name, page_size: 2, ...(token === undefined ? {} : { page_token: token }) });
        seen.push(...page.tasks.map((task) => task.id));
        token = page.next_page_token;
        if (token === undefined || token === "") break;
      }
      assert.deepEqual(seen, [...ids].reverse());
      assert.ok(token === undefined || token === "", "the last page has no next_page_token");
    });

    test("filter_task_by_name: name_prefix keeps only tasks whose name starts with it, newest first", async () => {
      const prefix = `ComplianceTest_FilterTaskByName_${randomUUID()}`;
      const older = await tes.createTask({ name: `${prefix}_1`, executors: [{ image: "alpine", command: ["true"] }] });
      const newer = await tes.createTask({ name: `${prefix}_2`, executors: [{ image: "alpine", command: ["true"] }] });
      await tes.createTask({ name: `Other_${prefix}`, executors: [{ image: "alpine", command: ["true"] }] });
      const listed = await tes.listTasks({ view: "BASIC", name_prefix: prefix });
      assert.deepEqual(listed.tasks.map((task) => task.id), [newer, older]);
      assert.equal(listed.tasks[0]?.name, `${prefix}_2`);
      assert.deepEqual((await tes.listTasks({ name_prefix: `${prefix}_none` })).tasks, []);
    });

    test("filter_task_by_state: state keeps only tasks in that state", async () => {
      const name = `ComplianceTest_FilterTaskByState_${randomUUID()}`;
      const done = await tes.createTask({ name, executors: [{ image: "alpine", command: ["true"] }] });
      const failed = await tes.createTask({ name, executors: [sh("exit 2")] });
      await tes.waitForEnd(done);
      await tes.waitForEnd(failed);
      const complete = await tes.listTasks({ view: "BASIC", name_prefix: name, state: "COMPLETE" });
      assert.deepEqual(complete.tasks.map((task) => [task.id, task.state]), [[done, "COMPLETE"]]);
      const errored = await tes.listTasks({ name_prefix: name, state: "EXECUTOR_ERROR" });
      assert.deepEqual(errored.tasks, [{ id: failed, state: "EXECUTOR_ERROR" }]);
      assert.deepEqual((await tes.listTasks({ name_prefix: name, state: "QUEUED" })).tasks, []);
      for (const task of (await tes.listTasks({ state: "COMPLETE" })).tasks) assert.equal(task.state, "COMPLETE");
    });

    test("filter_task_by_tag: keys and values zipped by position, a key without a value matches any value", async () => {
      const tags = { foo: "bar", baz: "bat", lorem: "ipsum", task: "create" };
      const id = await tes.createTask({
        name: "ComplianceTest_FilterTaskByTag1",
        description: "Compliance Test",
        executors: [{ image: "alpine", command: ["echo", "hello"] }],
        tags,
      });
      const all = await tes.listTasks({ view: "BASIC", tag_key: ["foo", "lorem", "task", "baz"], tag_value: ["bar", "ipsum", "create", "bat"] });
      assert.equal(all.tasks[0]?.id, id);
      assert.deepEqual(all.tasks[0]?.tags, tags);
      const fewerValues = await tes.listTasks({ view: "BASIC", tag_key: ["foo", "lorem", "baz"], tag_value: ["bar", "ipsum"] });
      assert.equal(fewerValues.tasks[0]?.id, id);
      assert.deepEqual(fewerValues.tasks[0]?.tags, tags);
      assert.deepEqual((await tes.listTasks({ view: "BASIC", tag_key: ["foo", "lorem", "extra"], tag_value: ["bar", "ipsum"] })).tasks, []);
      assert.deepEqual((await tes.listTasks({ view: "BASIC", tag_key: "foo", tag_value: "wrong_value" })).tasks, []);

      const empty = await tes.createTask({
        name: "ComplianceTest_FilterTaskByTag2",
        executors: [{ image: "alpine", command: ["echo", "hello"] }],
        tags: { abcxyz: "" },
      });
      const byKey = await tes.listTasks({ view: "BASIC", tag_key: "abcxyz" });
      assert.deepEqual(byKey.tasks.map((task) => [task.id, task.tags]), [[empty, { abcxyz: "" }]]);
      await tes.createTask({ name: "ComplianceTest_FilterTaskByTag4", executors: [{ image: "alpine", command: ["echo", "hello"] }] });
      assert.deepEqual((await tes.listTasks({ view: "BASIC", tag_key: "tag_key_not_defined", tag_value: "tag_value_not_defined" })).tasks, []);
    });

    test("create_task_backend_parameters_negative: an unknown key with backend_parameters_strict is 400 and stores nothing", async () => {
      const name = `ComplianceTest_Strict_${randomUUID()}`;
      const refused = await tes.postTask({
        name,
        executors: [{ image: "alpine", command: ["true"] }],
        resources: { backend_parameters: { unknown_backend_parameter_key: "x" }, backend_parameters_strict: true },
      });
      assert.equal(refused.status, 400, refused.text);
      assert.match(String(refused.json.message), /unknown_backend_parameter_key/);
      assert.deepEqual((await tes.listTasks({ name_prefix: name })).tasks, []);
    });

    test("create_task_backend_parameters: an unknown key without strict runs, is not returned, and is reported in system_logs", async () => {
      const id = await tes.createTask({
        executors: [{ image: "alpine", command: ["true"] }],
        resources: { backend_parameters: { unknown_backend_parameter_key: "x" }, backend_parameters_strict: false },
      });
      const task = await tes.waitForEnd(id);
      assert.equal(task.state, "COMPLETE");
      assert.equal((task.resources?.backend_parameters as Record<string, string> | undefined)?.unknown_backend_parameter_key, undefined);
      assert.match(lastLog(task).system_logs?.join("\n") ?? "", /unknown_backend_parameter_key/);
    });

    test("create_task_ignore_error: [\"ERROR\"] cannot start, so EXECUTOR_ERROR with exactly 1 ExecutorLog; with ignore_error both executors log", async () => {
      const executors = (ignore: boolean) => [
        { image: "alpine", command: ["ERROR"], ignore_error: ignore },
        { image: "alpine", command: ["echo", "hello"] },
      ];
      const [stopped, ignored] = await Promise.all([
        tes.createTask({ name: "CompTest", description: "CompTest", executors: executors(false) }),
        tes.createTask({ name: "CompTest", description: "CompTest", executors: executors(true) }),
      ]);
      const failed = await tes.waitForEnd(stopped);
      assert.equal(failed.state, "EXECUTOR_ERROR");
      assert.equal(failed.logs?.[0]?.logs.length, 1);
      assert.notEqual(failed.logs?.[0]?.logs[0]?.exit_code, 0);

      const went = await tes.waitForEnd(ignored);
      assert.equal(went.logs?.[0]?.logs.length, 2);
      assert.deepEqual(went.logs?.[0]?.logs.map((log) => log.exit_code === 0), [false, true]);
    });

    test("cancel_task: 200 {} and the task is then CANCELING or CANCELED, ending CANCELED", async () => {
      const id = await tes.createTask({ executors: [sh("sleep 30")] });
      await tes.waitForState(id, ["RUNNING"]);
      const reply = await tes.cancel(id);
      assert.equal(reply.status, 200, reply.text);
      assertValidTes("tesCancelTaskResponse", reply.json);
      assert.deepEqual(reply.json, {});
      assert.ok(["CANCELING", "CANCELED"].includes((await tes.getTask(id)).state));
      const canceled = await tes.waitForState(id, ["CANCELED"], 15_000);
      assert.equal(canceled.state, "CANCELED");
    });
  });
}
