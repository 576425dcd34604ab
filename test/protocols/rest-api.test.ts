import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import { ExecutorLogSchema, OutputFileLogSchema, State, TaskLogSchema, TaskSchema } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { ALL } from "../../src/store/task-store.js";
import { assertValidTes } from "../support/openapi-validator.js";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

const TASK = {
  name: "rest-hello",
  executors: [{ image: "alpine", command: ["echo", "hello"] }],
  tags: { project: "edges" },
};

describe("TES REST over HTTP/1.1", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const response = await fetch(`${s.baseUrl}${path}`, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: text === "" ? undefined : JSON.parse(text) };
  }

  async function createTask(task: unknown = TASK): Promise<string> {
    const res = await call("POST", "/ga4gh/tes/v1/tasks", task);
    assert.equal(res.status, 200, res.text);
    assertValidTes("tesCreateTaskResponse", res.json);
    return res.json.id as string;
  }

  it("serves every binding of the proto: /ga4gh/tes/v1, /v1 and the bare root", async () => {
    for (const base of ["/ga4gh/tes/v1", "/v1", ""]) {
      const info = await call("GET", `${base}/service-info`);
      assert.equal(info.status, 200);
      assert.equal(info.headers.get("content-type"), "application/json");
      assertValidTes("tesServiceInfo", info.json);
      const id = (await call("POST", `${base}/tasks`, TASK)).json.id as string;
      const got = await call("GET", `${base}/tasks/${id}`);
      assert.deepEqual(got.json, { id, state: "QUEUED" });
      const list = await call("GET", `${base}/tasks?page_size=1`);
      assert.equal(list.status, 200);
      assertValidTes("tesListTasksResponseMinimal", list.json);
    }
    // TES 0.x's place for it, where py-tes before 1.0 asks: the literal wins over GetTask's {id}.
    const legacy = await call("GET", "/v1/tasks/service-info");
    assert.equal(legacy.status, 200);
    assertValidTes("tesServiceInfo", legacy.json);
  });

  it("returns tasks shaped by view, valid against the OpenAPI", async () => {
    const id = await createTask({ ...TASK, inputs: [{ path: "/in/a", content: "abc" }] });
    const minimal = await call("GET", `/ga4gh/tes/v1/tasks/${id}`);
    assertValidTes("tesTaskMinimal", minimal.json);
    const basic = await call("GET", `/ga4gh/tes/v1/tasks/${id}?view=BASIC`);
    assertValidTes("tesTask", basic.json);
    assert.equal(basic.json.inputs[0].content, undefined);
    const full = await call("GET", `/ga4gh/tes/v1/tasks/${id}?view=FULL`);
    assertValidTes("tesTask", full.json);
    assert.equal(full.json.inputs[0].content, "abc");
    assert.equal(full.json.name, "rest-hello");
    assert.match(full.json.creation_time, /^\d{4}-\d\d-\d\dT/);
  });

  it("ignores the read-only fields a client sends on create, even values that would not parse (\"COMPLETED\", a numeric id, bad logs)", async () => {
    const sent = {
      ...TASK,
      id: 123,
      state: "COMPLETED",
      creation_time: 12345,
      logs: [{ logs: [{ exit_code: "x" }], start_time: ["not", "a", "time"] }],
    };
    const created = await call("POST", "/ga4gh/tes/v1/tasks", sent);
    assert.equal(created.status, 200, created.text);
    const full = await call("GET", `/ga4gh/tes/v1/tasks/${created.json.id as string}?view=FULL`);
    assertValidTes("tesTask", full.json);
    assert.equal(full.json.state, "QUEUED");
    assert.notEqual(full.json.id, "123");
    assert.match(full.json.creation_time, /^\d{4}-\d\d-\d\dT/);
    assert.equal(full.json.logs, undefined);
  });

  it("emits REQUIRED fields holding defaults over the wire: exit_code 0, size_bytes \"0\", empty outputs", async () => {
    const id = await createTask();
    const record = await s.store.get(id, ALL);
    assert.ok(record);
    const task = clone(TaskSchema, record.task);
    task.state = State.COMPLETE;
    task.logs = [
      create(TaskLogSchema, {
        logs: [create(ExecutorLogSchema, { exitCode: 0 })],
        outputs: [create(OutputFileLogSchema, { url: "file:///out/empty", path: "/out/empty", sizeBytes: 0n })],
      }),
      create(TaskLogSchema, {}),
    ];
    assert.ok(await s.store.update(id, record.version, { task }));
    const full = await call("GET", `/ga4gh/tes/v1/tasks/${id}?view=FULL`);
    assertValidTes("tesTask", full.json);
    assert.deepEqual(full.json.logs, [
      { logs: [{ exit_code: 0 }], outputs: [{ url: "file:///out/empty", path: "/out/empty", size_bytes: "0" }] },
      { logs: [], outputs: [] },
    ]);
  });

  it("answers an empty page as {\"tasks\": []}", async () => {
    const res = await call("GET", "/ga4gh/tes/v1/tasks?name_prefix=no-such-name");
    assert.deepEqual(res.json, { tasks: [] });
  });

  it("accepts the camelCase aliases clients send, null tag values and unknown fields", async () => {
    const id = await createTask({
      executors: [{ image: "alpine", command: ["true"], ignoreError: true, workdir: null }],
      resources: { cpuCores: 2, ramGb: 3.5, diskGb: 10, backendParametersStrict: false, preemptible: null },
      outputs: [{ path: "/out/*.txt", pathPrefix: "/out/", url: "file:///results/" }],
      tags: { cromwell: null, kept: "yes" },
      somethingNew: { ignored: true },
    });
    const full = (await call("GET", `/ga4gh/tes/v1/tasks/${id}?view=FULL`)).json;
    assertValidTes("tesTask", full);
    assert.deepEqual(full.resources, { cpu_cores: 2, ram_gb: 3.5, disk_gb: 10 });
    assert.equal(full.executors[0].ignore_error, true);
    assert.equal(full.outputs[0].path_prefix, "/out/");
    assert.deepEqual(full.tags, { cromwell: "", kept: "yes" });
  });

  it("filters with repeated tag_key/tag_value, state and name_prefix, by proto or JSON name", async () => {
    const a = await createTask({ ...TASK, name: "filter-a", tags: { foo: "bar", baz: "1" } });
    await createTask({ ...TASK, name: "filter-b", tags: { foo: "other" } });
    const res = await call("GET", "/ga4gh/tes/v1/tasks?name_prefix=filter-&tag_key=foo&tag_value=bar&tag_key=baz&state=QUEUED&view=MINIMAL");
    assert.deepEqual(res.json, { tasks: [{ id: a, state: "QUEUED" }] });
    const page = await call("GET", "/ga4gh/tes/v1/tasks?namePrefix=filter-&pageSize=1");
    assert.equal(page.json.tasks.length, 1);
    assert.equal(typeof page.json.next_page_token, "string");
    const next = await call("GET", `/ga4gh/tes/v1/tasks?name_prefix=filter-&page_size=1&page_token=${encodeURIComponent(page.json.next_page_token)}`);
    assert.equal(next.json.tasks.length, 1);
    assert.notEqual(next.json.tasks[0].id, page.json.tasks[0].id);
    const twice = await call("GET", "/ga4gh/tes/v1/tasks?name_prefix=filter-a&namePrefix=filter-b");
    assert.equal(twice.status, 400);
    assert.deepEqual(twice.json, { code: "invalid_argument", message: 'name_prefix: is given twice, as "name_prefix" and as "namePrefix"' });
  });

  it("cancels with POST …:cancel and …%3Acancel, with no body, or with {} whatever its content type (the body sets nothing)", async () => {
    const cases = [
      [":cancel", undefined, undefined],
      ["%3Acancel", undefined, undefined],
      ["%3acancel", "{}", "application/json"],
      [":cancel", "{}", undefined],
      [":cancel", "{}", "application/x-www-form-urlencoded"],
      [":cancel", "{}", "text/plain"],
    ] as const;
    for (const [suffix, body, contentType] of cases) {
      const id = await createTask();
      // A Blob without a type sends no content-type at all, as a client that sets none would.
      const res = await fetch(`${s.baseUrl}/ga4gh/tes/v1/tasks/${id}${suffix}`, {
        method: "POST",
        ...(body !== undefined && { body: contentType === undefined ? new Blob([body]) : body }),
        ...(contentType !== undefined && { headers: { "content-type": contentType } }),
      });
      assert.equal(res.status, 200, `${suffix} ${body} ${contentType}`);
      assert.deepEqual(await res.json(), {});
      const got = await call("GET", `/ga4gh/tes/v1/tasks/${id}`);
      assert.ok(["CANCELING", "CANCELED"].includes(got.json.state), got.text);
    }
  });

  it("refuses a body that is not plain application/json with 415, and creates nothing", async () => {
    const before = (await call("GET", "/ga4gh/tes/v1/tasks?page_size=2047")).json.tasks.length;
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const res = await call("POST", "/ga4gh/tes/v1/tasks", JSON.stringify(TASK), { "content-type": contentType });
      assert.equal(res.status, 415, contentType);
      assert.equal(res.json.code, "invalid_argument");
      assert.match(res.json.message, /application\/json/);
    }
    const gzipped = await call("POST", "/ga4gh/tes/v1/tasks", JSON.stringify(TASK), { "content-encoding": "gzip" });
    assert.equal(gzipped.status, 415);
    assert.match(gzipped.json.message, /content-encoding gzip/);
    const after = (await call("GET", "/ga4gh/tes/v1/tasks?page_size=2047")).json.tasks.length;
    assert.equal(after, before);
  });

  it("answers bad input with 400 invalid_argument naming the field", async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ["POST", "/ga4gh/tes/v1/tasks", '{"executors": [', /not valid JSON/],
      ["POST", "/ga4gh/tes/v1/tasks", { ...TASK, resources: { cpu_cores: "two" } }, /^resources\.cpu_cores: must be an integer/],
      ["POST", "/ga4gh/tes/v1/tasks", { ...TASK, inputs: [{ path: "/a", url: "file:///a", type: "FOLDER" }] }, /^inputs\[0\]\.type: must be one of FILE, DIRECTORY/],
      ["POST", "/ga4gh/tes/v1/tasks", [TASK], /must be a JSON object/],
      ["GET", "/ga4gh/tes/v1/tasks?view=EVERYTHING", undefined, /^view: must be one of MINIMAL, BASIC, FULL/],
      ["GET", "/ga4gh/tes/v1/tasks?state=DONE", undefined, /^state: must be one of UNKNOWN, QUEUED/],
      ["GET", "/ga4gh/tes/v1/tasks?page_size=ten", undefined, /^page_size: must be an integer/],
      ["GET", "/ga4gh/tes/v1/tasks?view=FULL&view=BASIC", undefined, /^view: is given more than once/],
    ];
    for (const [method, path, body, message] of cases) {
      const res = await call(method, path, body);
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.code, "invalid_argument");
      assert.match(res.json.message, message);
      assert.deepEqual(Object.keys(res.json).sort(), ["code", "message"]);
    }
  });

  it("answers an unknown task with 404 not_found, an unknown path with 404, a wrong method with 405", async () => {
    const missing = await call("GET", "/ga4gh/tes/v1/tasks/no-such-task");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "not_found");
    const cancelMissing = await call("POST", "/ga4gh/tes/v1/tasks/no-such-task:cancel");
    assert.equal(cancelMissing.status, 404);
    const nowhere = await call("GET", "/ga4gh/tes/v2/tasks");
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.json.code, "not_found");
    const wrong = await call("DELETE", "/ga4gh/tes/v1/tasks");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET, POST");
    assert.equal(wrong.json.code, "unimplemented");
  });

  it("lets the literal route win over a variable: /service-info is not a task id", async () => {
    // GET /tasks/{id} and GET /service-info never collide; the cancel verb beats a plain {id}.
    const res = await call("POST", "/tasks/abc:cancel");
    assert.equal(res.status, 404);
    assert.match(res.json.message, /abc/);
    assert.doesNotMatch(res.json.message, /abc:cancel/);
  });

  it("adds no X-Powered-By, no stack, no server path to any answer, and forbids caching", async () => {
    for (const res of [
      await call("GET", "/ga4gh/tes/v1/service-info"),
      await call("GET", "/ga4gh/tes/v1/tasks/x"),
      await call("POST", "/ga4gh/tes/v1/tasks", "{bad"),
      await call("GET", "/nowhere"),
    ]) {
      assert.equal(res.headers.get("x-powered-by"), null);
      assert.equal(res.headers.get("server"), null);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.doesNotMatch(res.text, /\/work\/|node_modules|at .*\.ts:|connectrpc|bufbuild|Error:/);
    }
  });
});
