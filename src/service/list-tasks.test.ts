import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { InputSchema, State, TaskSchema, View } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { as, startHarness, validTask, type Harness } from "./testing/service-harness.js";
import { advanceTask } from "./testing/worker-writes.js";

describe("ListTasks paging", () => {
  let h: Harness;
  let ids: string[];
  before(async () => {
    h = await startHarness();
    ids = [];
    for (let i = 0; i < 300; i++) ids.push((await h.client.createTask(validTask({ name: `t${i}` }))).id);
  });
  after(() => h.close());

  it("answers 256 tasks by default, newest first, MINIMAL, with a next_page_token", async () => {
    const page = await h.client.listTasks({});
    assert.equal(page.tasks.length, 256);
    assert.deepEqual(page.tasks.map((task) => task.id), [...ids].reverse().slice(0, 256));
    assert.deepEqual(toJson(TaskSchema, page.tasks[0]!), { id: ids.at(-1), state: "QUEUED" });
    assert.notEqual(page.nextPageToken, "");
  });

  it("walks every task exactly once, newest first, and the last page has no token", async () => {
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await h.client.listTasks({ pageSize: 7, pageToken });
      seen.push(...page.tasks.map((task) => task.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    assert.equal(pages, Math.ceil(300 / 7));
    assert.deepEqual(seen, [...ids].reverse());
  });

  it("gives a token after a page of 1 when 2 or more tasks exist, and the next page holds 1 task", async () => {
    const first = await h.client.listTasks({ pageSize: 1 });
    assert.equal(first.tasks.length, 1);
    const second = await h.client.listTasks({ pageSize: 1, pageToken: first.nextPageToken });
    assert.equal(second.tasks.length, 1);
    assert.notEqual(second.tasks[0]?.id, first.tasks[0]?.id);
  });

  it("accepts page_size 2047", async () => {
    const page = await h.client.listTasks({ pageSize: 2047 });
    assert.equal(page.tasks.length, 300);
    assert.equal(page.nextPageToken, "");
  });

  it("refuses page_size above 2047 and below 0, saying what it got", async () => {
    await assert.rejects(h.client.listTasks({ pageSize: 5000 }), {
      code: Code.InvalidArgument,
      rawMessage: "page_size must be at most 2047, got 5000",
    });
    await assert.rejects(h.client.listTasks({ pageSize: 2048 }), {
      code: Code.InvalidArgument,
      rawMessage: "page_size must be at most 2047, got 2048",
    });
    await assert.rejects(h.client.listTasks({ pageSize: -1 }), {
      code: Code.InvalidArgument,
      rawMessage: "page_size must not be negative, got -1 (leave it out or send 0 for the default)",
    });
  });

  it("honours a lower configured maximum and default page size", async () => {
    const small = await startHarness({ limits: { maxPageSize: 10, defaultPageSize: 3 } });
    try {
      for (let i = 0; i < 5; i++) await small.client.createTask(validTask());
      assert.equal((await small.client.listTasks({})).tasks.length, 3);
      await assert.rejects(small.client.listTasks({ pageSize: 11 }), { rawMessage: "page_size must be at most 10, got 11" });
    } finally {
      await small.close();
    }
  });

  it("refuses a made-up, truncated or altered page_token with invalid_argument", async () => {
    const { nextPageToken } = await h.client.listTasks({ pageSize: 5 });
    const altered = nextPageToken.slice(0, -3) + (nextPageToken.endsWith("A") ? "BBB" : "AAA");
    for (const pageToken of ["garbage", "!!!", nextPageToken.slice(0, 10), altered, "x".repeat(5000)]) {
      await assert.rejects(h.client.listTasks({ pageSize: 5, pageToken }), (error: { code: Code; rawMessage: string }) => {
        assert.equal(error.code, Code.InvalidArgument, `token ${JSON.stringify(pageToken.slice(0, 40))}`);
        assert.match(error.rawMessage, /page_token/);
        return true;
      });
    }
  });

  it("refuses a page_token used with other filters", async () => {
    const { nextPageToken } = await h.client.listTasks({ pageSize: 5 });
    await assert.rejects(h.client.listTasks({ pageSize: 5, pageToken: nextPageToken, namePrefix: "t1" }), {
      code: Code.InvalidArgument,
    });
  });
});

describe("ListTasks filters and views", () => {
  let h: Harness;
  const named: Record<string, string> = {};
  before(async () => {
    h = await startHarness();
    for (const name of ["alpha-1", "alpha-2", "beta-1"]) {
      named[name] = (
        await h.client.createTask(validTask({ name, inputs: [create(InputSchema, { path: "/in/a", content: "c" })] }))
      ).id;
    }
    await advanceTask(h.store, named["alpha-2"]!, State.RUNNING, { backendHandle: "h2", withLogs: true });
    await advanceTask(h.store, named["beta-1"]!, State.COMPLETE, { backendHandle: "h3", withLogs: true });
  });
  after(() => h.close());

  it("filters by name_prefix", async () => {
    const page = await h.client.listTasks({ namePrefix: "alpha" });
    assert.deepEqual(page.tasks.map((task) => task.id), [named["alpha-2"], named["alpha-1"]]);
  });

  it("filters by state", async () => {
    assert.deepEqual((await h.client.listTasks({ state: State.RUNNING })).tasks.map((task) => task.id), [named["alpha-2"]]);
    assert.deepEqual((await h.client.listTasks({ state: State.CANCELED })).tasks, []);
  });

  it("shapes each task by the view", async () => {
    const basic = await h.client.listTasks({ namePrefix: "beta", view: View.BASIC });
    const task = basic.tasks[0]!;
    assert.equal(task.name, "beta-1");
    assert.equal(task.inputs[0]?.content, "");
    assert.deepEqual(task.logs[0]?.systemLogs, []);
    assert.equal(task.logs[0]?.logs[0]?.stdout, "");
    assert.equal(task.logs[0]?.logs[0]?.exitCode, 0);
    const full = await h.client.listTasks({ namePrefix: "beta", view: View.FULL });
    assert.equal(full.tasks[0]?.inputs[0]?.content, "c");
    assert.deepEqual(full.tasks[0]?.logs[0]?.systemLogs, ["pulled image alpine"]);
  });

  it("refuses a view or state the schema does not name", async () => {
    await assert.rejects(h.client.listTasks({ view: 9 as View }), {
      code: Code.InvalidArgument,
      rawMessage: "view must be one of MINIMAL, BASIC, FULL, got 9",
    });
    await assert.rejects(h.client.listTasks({ state: 42 as State }), (error: { code: Code; rawMessage: string }) => {
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /^state must be one of UNKNOWN, QUEUED, .*CANCELING, got 42$/);
      return true;
    });
  });

  it("refuses an over-long name_prefix", async () => {
    await assert.rejects(h.client.listTasks({ namePrefix: "n".repeat(2000) }), {
      code: Code.InvalidArgument,
      rawMessage: "name_prefix must be at most 1024 bytes, got 2000",
    });
  });

  it("refuses NUL in name_prefix and tag filters, which no stored task can hold", async () => {
    await assert.rejects(h.client.listTasks({ namePrefix: "a\0" }), {
      code: Code.InvalidArgument,
      rawMessage: "name_prefix must not contain NUL characters",
    });
    await assert.rejects(h.client.listTasks({ tagKey: ["k", "x\0"] }), {
      code: Code.InvalidArgument,
      rawMessage: "tag_key[1] must not contain NUL characters",
    });
    await assert.rejects(h.client.listTasks({ tagKey: ["k"], tagValue: ["\0"] }), {
      code: Code.InvalidArgument,
      rawMessage: "tag_value[0] must not contain NUL characters",
    });
  });

  it("lists only the caller's own tasks", async () => {
    const { id } = await h.client.createTask(validTask({ name: "alpha-alice" }), as("alice"));
    assert.deepEqual((await h.client.listTasks({}, as("alice"))).tasks.map((task) => task.id), [id]);
    assert.deepEqual((await h.client.listTasks({}, as("bob"))).tasks, []);
  });

  it("refuses a page_token issued to another owner", async () => {
    await h.client.createTask(validTask(), as("carol"));
    await h.client.createTask(validTask(), as("carol"));
    const { nextPageToken } = await h.client.listTasks({ pageSize: 1 }, as("carol"));
    assert.notEqual(nextPageToken, "");
    await assert.rejects(h.client.listTasks({ pageSize: 1, pageToken: nextPageToken }, as("dave")), {
      code: Code.InvalidArgument,
    });
  });
});

describe("ListTasks tag filters (TES 1.1: zipped by position, empty value matches any value)", () => {
  /** The matching table of the TES 1.1 ListTasks description: filter, task tags, match. */
  const table: Array<[Record<string, string>, Record<string, string>, boolean]> = [
    [{ foo: "bar" }, { foo: "bar" }, true],
    [{ foo: "bar" }, { foo: "bat" }, false],
    [{ foo: "" }, { foo: "" }, true],
    [{ foo: "bar", baz: "bat" }, { foo: "bar", baz: "bat" }, true],
    [{ foo: "bar" }, { foo: "bar", baz: "bat" }, true],
    [{ foo: "bar", baz: "bat" }, { foo: "bar" }, false],
    [{ foo: "" }, { foo: "bar" }, true],
    [{ foo: "" }, {}, false],
  ];

  for (const [filter, tags, matches] of table) {
    it(`filter ${JSON.stringify(filter)} ${matches ? "matches" : "does not match"} tags ${JSON.stringify(tags)}`, async () => {
      const h = await startHarness();
      try {
        const { id } = await h.client.createTask(validTask({ tags }));
        const page = await h.client.listTasks({ tagKey: Object.keys(filter), tagValue: Object.values(filter) });
        assert.deepEqual(page.tasks.map((task) => task.id), matches ? [id] : []);
      } finally {
        await h.close();
      }
    });
  }

  it("treats keys beyond the values as 'any value' (tag_key=[foo,lorem,baz], tag_value=[bar,ipsum])", async () => {
    const h = await startHarness();
    try {
      const { id: all } = await h.client.createTask(validTask({ tags: { foo: "bar", lorem: "ipsum", baz: "anything" } }));
      await h.client.createTask(validTask({ tags: { foo: "bar", lorem: "ipsum" } }));
      await h.client.createTask(validTask({ tags: { foo: "bar", lorem: "other", baz: "x" } }));
      const page = await h.client.listTasks({ tagKey: ["foo", "lorem", "baz"], tagValue: ["bar", "ipsum"] });
      assert.deepEqual(page.tasks.map((task) => task.id), [all]);
    } finally {
      await h.close();
    }
  });

  it("refuses more tag_value entries than tag_key entries", async () => {
    const h = await startHarness();
    try {
      await assert.rejects(h.client.listTasks({ tagKey: ["foo"], tagValue: ["bar", "baz"] }), {
        code: Code.InvalidArgument,
        rawMessage: "tag_value has 2 entries but tag_key has only 1; values are paired with keys by position",
      });
      await assert.rejects(h.client.listTasks({ tagValue: ["bar"] }), { code: Code.InvalidArgument });
    } finally {
      await h.close();
    }
  });

  it("keeps paging within the tag filter", async () => {
    const h = await startHarness();
    try {
      const tagged: string[] = [];
      for (let i = 0; i < 5; i++) {
        tagged.push((await h.client.createTask(validTask({ tags: { run: "r1" } }))).id);
        await h.client.createTask(validTask({ tags: { run: "r2" } }));
      }
      const first = await h.client.listTasks({ tagKey: ["run"], tagValue: ["r1"], pageSize: 3 });
      const second = await h.client.listTasks({ tagKey: ["run"], tagValue: ["r1"], pageSize: 3, pageToken: first.nextPageToken });
      assert.deepEqual([...first.tasks, ...second.tasks].map((task) => task.id), [...tagged].reverse());
      assert.equal(second.nextPageToken, "");
    } finally {
      await h.close();
    }
  });
});
