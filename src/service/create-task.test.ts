import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ExecutorLogSchema,
  FileType,
  InputSchema,
  OutputSchema,
  ResourcesSchema,
  State,
  TaskLogSchema,
  View,
} from "../gen/ga4gh/tes/v1/tes_pb.js";
import { ALL } from "../store/task-store.js";
import { as, startHarness, storedCount, validTask, type Harness } from "./testing/service-harness.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("CreateTask", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ clock: () => new Date("2026-11-28T05:00:00.123Z") });
  });
  after(() => h.close());

  it("answers with the id only, a lowercase UUIDv7 without / or :", async () => {
    const response = await h.client.createTask(validTask());
    assert.deepEqual(Object.keys(response).filter((key) => !key.startsWith("$")), ["id"]);
    assert.match(response.id, UUID_V7);
  });

  it("gives ids that sort in creation order", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await h.client.createTask(validTask())).id);
    assert.deepEqual([...ids].sort(), ids);
  });

  it("stores the task FULL as QUEUED with creation_time, ignoring client-sent id, state, logs and creation_time", async () => {
    const sent = validTask({
      id: "my-own-id",
      state: State.COMPLETE,
      creationTime: "1999-01-01T00:00:00Z",
      logs: [create(TaskLogSchema, { systemLogs: ["forged"], logs: [create(ExecutorLogSchema, { exitCode: 0 })] })],
      name: "full",
      description: "all fields",
      inputs: [create(InputSchema, { path: "/in/a.txt", content: "hello" })],
      tags: { project: "x" },
      volumes: ["/scratch"],
    });
    const { id } = await h.client.createTask(sent);
    assert.notEqual(id, "my-own-id");

    const stored = await h.store.get(id, ALL);
    assert.ok(stored);
    assert.equal(stored.task.id, id);
    assert.equal(stored.task.state, State.QUEUED);
    assert.equal(stored.task.creationTime, "2026-11-28T05:00:00.123Z");
    assert.deepEqual(stored.task.logs, []);
    assert.equal(stored.task.inputs[0]?.content, "hello");
    assert.deepEqual(stored.task.tags, { project: "x" });
    assert.deepEqual(stored.task.volumes, ["/scratch"]);

    const full = await h.client.getTask({ id, view: View.FULL });
    assert.equal(full.state, State.QUEUED);
    assert.equal(full.name, "full");
    assert.equal(full.description, "all fields");
    assert.equal(full.creationTime, "2026-11-28T05:00:00.123Z");
  });

  it("writes creation_time in RFC 3339, UTC, with milliseconds, from the system clock by default", async () => {
    const plain = await startHarness();
    try {
      const before = Date.now();
      const { id } = await plain.client.createTask(validTask());
      const task = await plain.client.getTask({ id, view: View.BASIC });
      assert.match(task.creationTime, RFC3339_UTC_MS);
      const at = Date.parse(task.creationTime);
      assert.ok(at >= before - 1 && at <= Date.now() + 1);
    } finally {
      await plain.close();
    }
  });

  it("fills in type FILE on inputs that leave it out, keeps DIRECTORY, and leaves an output's to the run", async () => {
    const { id } = await h.client.createTask(
      validTask({
        inputs: [
          create(InputSchema, { url: "s3://b/a", path: "/in/a" }),
          create(InputSchema, { url: "s3://b/d/", path: "/in/d", type: FileType.DIRECTORY }),
        ],
        outputs: [create(OutputSchema, { url: "s3://b/out", path: "/out/x" })],
      }),
    );
    const task = await h.client.getTask({ id, view: View.BASIC });
    assert.equal(task.inputs[0]?.type, FileType.FILE);
    assert.equal(task.inputs[1]?.type, FileType.DIRECTORY);
    assert.equal(task.outputs[0]?.type, undefined);
  });

  it("enqueues the new task for submission", async () => {
    const { id } = await h.client.createTask(validTask());
    assert.equal(h.queue.submitted.at(-1), id);
  });

  it("answers once the task is stored, without waiting for the queue to take it", async () => {
    const slow = await startHarness();
    try {
      let release = (): void => {};
      slow.queue.holdUntil = new Promise<void>((resolve) => (release = resolve));
      const { id } = await slow.client.createTask(validTask());
      assert.equal((await slow.store.get(id, ALL))?.task.state, State.QUEUED);
      assert.deepEqual(slow.queue.submitted, [], "the queue has not taken it yet");
      release();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(slow.queue.submitted, [id], "and takes it after the answer");
    } finally {
      await slow.close();
    }
  });

  it("still succeeds, with the task stored QUEUED, when the queue is down; the failure is logged", async () => {
    const down = await startHarness();
    try {
      down.queue.failWith = new Error("connect ECONNREFUSED 127.0.0.1:6379");
      const { id } = await down.client.createTask(validTask());
      const stored = await down.store.get(id, ALL);
      assert.equal(stored?.task.state, State.QUEUED);
      assert.deepEqual(down.queue.submitted, []);
      // The enqueue goes on after the answer; its failure is logged as soon as it fails.
      await new Promise((resolve) => setImmediate(resolve));
      const warning = down.logLines.find((line) => line.taskId === id);
      assert.ok(warning, "the enqueue failure is logged with the task id");
      assert.equal(warning.level, 40);
    } finally {
      await down.close();
    }
  });

  it("records the caller as the owner: other owners cannot see the task", async () => {
    const { id } = await h.client.createTask(validTask(), as("alice"));
    assert.equal((await h.store.get(id, ALL))?.owner, "alice");
    assert.equal((await h.client.getTask({ id }, as("alice"))).id, id);
    await assert.rejects(h.client.getTask({ id }, as("bob")), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.NotFound);
      return true;
    });
  });

  it("accepts 128 KiB of input content with the default limits", async () => {
    const content = "x".repeat(128 * 1024);
    const { id } = await h.client.createTask(validTask({ inputs: [create(InputSchema, { path: "/in/big", content })] }));
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.equal(task.inputs[0]?.content.length, content.length);
  });

  it("keeps a url given beside non-empty content (content wins at run time) and accepts content without url", async () => {
    const { id } = await h.client.createTask(
      validTask({ inputs: [create(InputSchema, { path: "/in/a", content: "inline", url: "s3://ignored/x" })] }),
    );
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.equal(task.inputs[0]?.content, "inline");
  });
});

describe("CreateTask backend_parameters", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("keeps supported keys, matched case-insensitively, under the backend's spelling", async () => {
    const { id } = await h.client.createTask(
      validTask({ resources: create(ResourcesSchema, { backendParameters: { vmsize: "Standard_D4s_v5" } }) }),
    );
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.deepEqual(task.resources?.backendParameters, { VmSize: "Standard_D4s_v5" });
    assert.deepEqual(task.logs, []);
  });

  it("drops unsupported keys and says so in the first task log's system_logs (FULL only), without the values", async () => {
    const { id } = await h.client.createTask(
      validTask({
        resources: create(ResourcesSchema, { backendParameters: { VMSIZE: "D2", gpu_count: "secret-ish-value", zone: "z" } }),
      }),
    );
    const full = await h.client.getTask({ id, view: View.FULL });
    assert.deepEqual(full.resources?.backendParameters, { VmSize: "D2" });
    assert.equal(full.logs.length, 1);
    const [warning, ...rest] = full.logs[0]?.systemLogs ?? [];
    assert.deepEqual(rest, []);
    assert.equal(
      warning,
      'backend_parameters keys "gpu_count", "zone" not supported by the test backend and ignored (supported: VmSize, DockerOptions)',
    );
    assert.ok(!JSON.stringify(full.logs).includes("secret-ish-value"));
    assert.deepEqual(full.logs[0]?.logs, []);
    assert.deepEqual(full.logs[0]?.outputs, []);

    const basic = await h.client.getTask({ id, view: View.BASIC });
    assert.deepEqual(basic.logs[0]?.systemLogs, []);
    assert.equal(basic.resources?.backendParameters.gpu_count, undefined);
  });

  it("refuses unsupported keys with backend_parameters_strict, naming them, and stores nothing", async () => {
    const before = await storedCount(h.store);
    const submitted = h.queue.submitted.length;
    await assert.rejects(
      h.client.createTask(
        validTask({
          resources: create(ResourcesSchema, {
            backendParameters: { VmSize: "D2", gpu_count: "1" },
            backendParametersStrict: true,
          }),
        }),
      ),
      (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.InvalidArgument);
        assert.equal(
          error.rawMessage,
          'resources.backend_parameters has a key this service does not support (backend_parameters_strict is set): "gpu_count"; supported: VmSize, DockerOptions',
        );
        return true;
      },
    );
    assert.equal(await storedCount(h.store), before);
    assert.equal(h.queue.submitted.length, submitted);
  });

  it("accepts supported keys with backend_parameters_strict", async () => {
    const { id } = await h.client.createTask(
      validTask({
        resources: create(ResourcesSchema, { backendParameters: { dockeroptions: "--shm-size=1g" }, backendParametersStrict: true }),
      }),
    );
    const task = await h.client.getTask({ id, view: View.FULL });
    assert.deepEqual(task.resources?.backendParameters, { DockerOptions: "--shm-size=1g" });
    assert.equal(task.resources?.backendParametersStrict, true);
  });

  it("refuses two spellings of one key", async () => {
    await assert.rejects(
      h.client.createTask(
        validTask({ resources: create(ResourcesSchema, { backendParameters: { VmSize: "a", vmsize: "b" } }) }),
      ),
      { code: Code.InvalidArgument, rawMessage: 'resources.backend_parameters has both "VmSize" and "vmsize": keys are case-insensitive' },
    );
  });
});
