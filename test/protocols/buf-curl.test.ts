import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const run = promisify(execFile);

async function bufCurl(args: string[]): Promise<string> {
  const { stdout } = await run(BUF, ["curl", ...args], { timeout: 30_000 });
  return stdout;
}

describe("gRPC server reflection, through the real buf curl", () => {
  let s: TestServer;
  let url: string;
  before(async () => {
    s = await startTestServer();
    url = `http://127.0.0.1:${s.port}`;
  });
  after(() => s.close());

  for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
    it(`lists every method with --list-methods over reflection ${reflectProtocol}`, async () => {
      const out = await bufCurl(["--http2-prior-knowledge", "--protocol", "grpc", "--reflect-protocol", reflectProtocol, "--list-methods", url]);
      const methods = out.trim().split("\n");
      for (const name of ["CancelTask", "CreateTask", "GetServiceInfo", "GetTask", "ListTasks"]) {
        assert.ok(methods.includes(`ga4gh.tes.v1.TaskService/${name}`), out);
      }
    });
  }

  for (const protocol of ["grpc", "connect", "grpcweb"]) {
    it(`creates and reads a task with --protocol ${protocol}, the schema coming from reflection`, async () => {
      const created = JSON.parse(
        await bufCurl([
          "--http2-prior-knowledge",
          "--protocol",
          protocol,
          "-d",
          JSON.stringify({ name: `buf-${protocol}`, executors: [{ image: "alpine", command: ["true"] }] }),
          `${url}/ga4gh.tes.v1.TaskService/CreateTask`,
        ]),
      ) as { id: string };
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      const task = JSON.parse(
        await bufCurl(["--http2-prior-knowledge", "--protocol", protocol, "-d", JSON.stringify({ id: created.id, view: "BASIC" }), `${url}/ga4gh.tes.v1.TaskService/GetTask`]),
      ) as { id: string; state: string; name: string };
      assert.equal(task.id, created.id);
      assert.equal(task.state, "QUEUED");
      assert.equal(task.name, `buf-${protocol}`);
    });
  }

  it("describes a message through reflection (file_containing_symbol)", async () => {
    const out = await bufCurl(["--http2-prior-knowledge", "--protocol", "grpc", "--list-services", url]);
    assert.match(out, /ga4gh\.tes\.v1\.TaskService/);
    assert.match(out, /grpc\.reflection\.v1\.ServerReflection/);
  });
});
