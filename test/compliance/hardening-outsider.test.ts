import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startComplianceServer, STORES, type ComplianceServer } from "./support/compliance-server.js";
import { TesClient, type Reply } from "./support/tes-client.js";

/**
 * What someone outside sees when they send the server what it must refuse: the right status, one
 * JSON shape `{"code","message"}` whose message names what is wrong, nothing stored, and nothing
 * about the server's insides (framework, libraries, file paths, stack traces) in a body or header.
 */
const EXECUTORS = [{ image: "alpine", command: ["true"] }];

/** Library and runtime names, stack frames and source files an error must never show. */
const LEAKS = [
  /\bat .+:\d+:\d+/, // a stack frame
  /node_modules|node:internal|\.ts\b|\.m?js\b/i,
  /connectrpc|bufbuild|protobuf|better-sqlite3|sqlite|postgres|\bpg\b|bullmq|ioredis|redis|express|fastify|ajv/i,
  /\/work\/|\/home\/|\/usr\/|\/src\//,
  /\b(TypeError|RangeError|SyntaxError|ReferenceError|FieldError)\b/,
];

for (const store of STORES) {
  describe(`hardening as an outsider sees it (${store} store)`, () => {
    let server: ComplianceServer;
    let tes: TesClient;
    /** Every refusal answered in this suite, checked for leaks at the end. */
    const refusals: Array<{ what: string; reply: Reply }> = [];

    before(async () => {
      server = await startComplianceServer(store, "hardening");
      tes = new TesClient(server.api);
    });
    after(async () => {
      await server?.stop();
    });

    /** Checks the refusal's status and shape, that its message names `names`, and keeps it for the leak check. */
    function assertRefusal(what: string, reply: Reply, status: number, names?: RegExp): void {
      refusals.push({ what, reply });
      assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.text}`);
      assert.match(reply.headers.get("content-type") ?? "", /^application\/json/, what);
      const body = reply.json as Record<string, unknown>;
      assert.deepEqual(Object.keys(body ?? {}).sort(), ["code", "message"], `${what}: ${reply.text}`);
      assert.ok(typeof body.code === "string" && typeof body.message === "string" && body.message !== "", what);
      if (names !== undefined) assert.match(body.message as string, names, what);
    }

    /** Whether any task whose name starts with `name` exists (nothing stored after a refusal). */
    async function stored(name: string): Promise<boolean> {
      return (await tes.listTasks({ name_prefix: name })).tasks.length > 0;
    }

    test("a POST that is not application/json is 415 and stores nothing", async () => {
      const name = `hardening-text-${randomUUID()}`;
      const body = JSON.stringify({ name, executors: EXECUTORS });
      for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
        const reply = await tes.request("POST", "/tasks", { body, headers: { "content-type": contentType } });
        assertRefusal(`POST as ${contentType}`, reply, 415, /application\/json/);
      }
      const none = await fetch(`${server.api}/tasks`, { method: "POST", body: Buffer.from(body) });
      assert.equal(none.status, 415, "a body with no content-type");
      assert.equal(await stored(name), false);
    });

    test("malformed JSON, wrong types and unknown enum names are 400 naming the field, and store nothing", async () => {
      const name = `hardening-bad-${randomUUID()}`;
      const cases: Array<[string, string, RegExp]> = [
        ["truncated JSON", `{"name":"${name}","executors":[`, /not valid JSON/],
        ["a JSON array", "[]", /JSON object/],
        ["command as a string", JSON.stringify({ name, executors: [{ image: "alpine", command: "true" }] }), /executors\[0\]\.command/],
        ["image as a number", JSON.stringify({ name, executors: [{ image: 7, command: ["true"] }] }), /executors\[0\]\.image/],
        ["cpu_cores as a word", JSON.stringify({ name, executors: EXECUTORS, resources: { cpu_cores: "many" } }), /resources\.cpu_cores/],
        ["cpu_cores fractional", JSON.stringify({ name, executors: EXECUTORS, resources: { cpu_cores: 1.5 } }), /resources\.cpu_cores/],
        ["ram_gb negative", JSON.stringify({ name, executors: EXECUTORS, resources: { ram_gb: -1 } }), /resources\.ram_gb/],
        ["preemptible as a word", JSON.stringify({ name, executors: EXECUTORS, resources: { preemptible: "yes" } }), /resources\.preemptible/],
        ["tags as an array", JSON.stringify({ name, executors: EXECUTORS, tags: ["a"] }), /tags/],
        ["a tag value object", JSON.stringify({ name, executors: EXECUTORS, tags: { a: { b: 1 } } }), /tags\.a/],
        ["unknown file type", JSON.stringify({ name, executors: EXECUTORS, inputs: [{ path: "/a", content: "x", type: "FOLDER" }] }), /inputs\[0\]\.type.*FOLDER/],
        ["a name with an unpaired surrogate", `{"name":"${name}\\ud800","executors":[{"image":"alpine","command":["true"]}]}`, /name/],
        ["a tag key with an unpaired surrogate", `{"name":"${name}","tags":{"k\\udfff":"v"},"executors":[{"image":"alpine","command":["true"]}]}`, /tags/],
        ["no executors", JSON.stringify({ name }), /executors/],
        ["an executor without image", JSON.stringify({ name, executors: [{ command: ["true"] }] }), /executors\[0\]\.image/],
        ["an input without url or content", JSON.stringify({ name, executors: EXECUTORS, inputs: [{ path: "/a" }] }), /inputs\[0\]/],
        ["an output without url", JSON.stringify({ name, executors: EXECUTORS, outputs: [{ path: "/a" }] }), /outputs\[0\]\.url/],
        ["a wildcard output without path_prefix", JSON.stringify({ name, executors: EXECUTORS, outputs: [{ path: "/o/*.txt", url: "https://example.org/o/" }] }), /outputs\[0\]\.path_prefix/],
      ];
      for (const [what, body, names] of cases) {
        const reply = await tes.request("POST", "/tasks", { body, headers: { "content-type": "application/json" } });
        assertRefusal(what, reply, 400, names);
        assert.equal((reply.json as { code: string }).code, "invalid_argument", what);
      }
      assert.equal(await stored(name), false);

      for (const [what, query, names] of [
        ["unknown view", "view=EVERYTHING", /view/],
        ["unknown state", "state=DONE", /state/],
        ["page_size not a number", "page_size=ten", /page_size/],
        ["a page_token the server never issued", "page_token=bm90LWEtdG9rZW4", /page_token/],
        ["more tag values than keys", "tag_key=a&tag_value=b&tag_value=c", /tag_value/],
      ] as const) {
        assertRefusal(what, await tes.request("GET", `/tasks?${query}`), 400, names);
      }
      assertRefusal("get with an unknown view", await tes.request("GET", `/tasks/x?view=ALL`), 400, /view/);
    });

    test("a body over MAX_REQUEST_BODY_BYTES is 413 and stores nothing", async () => {
      const name = `hardening-big-${randomUUID()}`;
      const body = JSON.stringify({ name, executors: EXECUTORS, description: "x".repeat(4 * 1024 * 1024 + 1) });
      assertRefusal("a 4 MiB body", await tes.request("POST", "/tasks", { body, headers: { "content-type": "application/json" } }), 413, /larger than/);
      assert.equal(await stored(name), false);
    });

    test("page_size 2048 is 400 (TES: less than 2048); 2047 is served", async () => {
      assertRefusal("page_size=2048", await tes.request("GET", "/tasks?page_size=2048"), 400, /page_size/);
      assertRefusal("page_size=-1", await tes.request("GET", "/tasks?page_size=-1"), 400, /page_size/);
      assert.equal((await tes.request("GET", "/tasks?page_size=2047")).status, 200);
    });

    test("a path that is relative or climbs out with .. is 400 naming the field, wherever a path is taken", async () => {
      const name = `hardening-path-${randomUUID()}`;
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ["input path with ..", { inputs: [{ path: "/data/../../etc/passwd", content: "x" }] }, /inputs\[0\]\.path/],
        ["relative input path", { inputs: [{ path: "etc/passwd", content: "x" }] }, /inputs\[0\]\.path/],
        ["output path with ..", { outputs: [{ path: "/out/../../etc/shadow", url: "https://example.org/x" }] }, /outputs\[0\]\.path/],
        ["volume with ..", { volumes: ["/shared/../.."] }, /volumes\[0\]/],
        ["stdout with ..", { executors: [{ image: "alpine", command: ["true"], stdout: "/out/../../proc/self/fd/1" }] }, /executors\[0\]\.stdout/],
        ["stdin relative", { executors: [{ image: "alpine", command: ["true"], stdin: "in.txt" }] }, /executors\[0\]\.stdin/],
        ["workdir with ..", { executors: [{ image: "alpine", command: ["true"], workdir: "/w/../.." }] }, /executors\[0\]\.workdir/],
        ["path_prefix outside the path", { outputs: [{ path: "/out/*.txt", path_prefix: "/other/", url: "https://example.org/o/" }] }, /path_prefix/],
        ["a file:// url outside the allowed directories", { inputs: [{ path: "/data/passwd", url: "file:///etc/passwd" }] }, /inputs\[0\]\.url/],
      ];
      for (const [what, fields, names] of cases) {
        const reply = await tes.postTask({ name, executors: EXECUTORS, ...fields });
        assertRefusal(what, reply, 400, names);
      }
      assert.equal(await stored(name), false);
    });

    test("an unknown task id is 404 on get and on cancel, with :cancel and %3Acancel alike", async () => {
      for (const id of ["no-such-task", "01a220e4-979a-702e-ad9e-09c05f164b4d", "..%2F..%2Fetc%2Fpasswd", "a%3Ab"]) {
        assertRefusal(`get ${id}`, await tes.request("GET", `/tasks/${id}`), 404);
        assertRefusal(`get ${id} FULL`, await tes.request("GET", `/tasks/${id}?view=FULL`), 404);
        for (const suffix of [":cancel", "%3Acancel", "%3acancel"]) {
          assertRefusal(`cancel ${id}${suffix}`, await tes.request("POST", `/tasks/${id}${suffix}`), 404);
        }
      }
      assertRefusal("an unknown route", await tes.request("GET", "/nothing-here"), 404);
      assertRefusal("a wrong method", await tes.request("DELETE", "/tasks/abc"), 405);
    });

    test("no answer, good or bad, carries X-Powered-By, a stack trace, a server path or a library name", async () => {
      const good = await Promise.all([
        tes.request("GET", "/service-info"),
        tes.request("GET", "/tasks?view=FULL"),
        tes.postTask({ name: "hardening-good", executors: EXECUTORS }),
      ]);
      for (const reply of good) {
        assert.equal(reply.status, 200);
        assert.equal(reply.headers.get("x-powered-by"), null);
        assert.equal(reply.headers.get("server"), null);
      }
      assert.ok(refusals.length > 40, `only ${refusals.length} refusals were collected`);
      for (const { what, reply } of refusals) {
        assert.equal(reply.headers.get("x-powered-by"), null, what);
        assert.equal(reply.headers.get("server"), null, what);
        const lines: string[] = [];
        reply.headers.forEach((value, key) => lines.push(`${key}: ${value}`));
        const headers = lines.join("\n");
        for (const leak of LEAKS) {
          assert.doesNotMatch(reply.text, leak, `${what} body: ${reply.text}`);
          assert.doesNotMatch(headers, leak, `${what} headers: ${headers}`);
        }
      }
      assert.doesNotMatch(server.output(), /"msg":"internal error/, "no refusal above was an internal error");
    });
  });
}
