import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { clone, create, toJson } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { State, TaskLogSchema, TaskSchema, View, type Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { InvalidPageTokenError, TaskExistsError, TaskNotFoundError, TerminalStateError } from "./store-errors.js";
import { TERMINAL_STATES } from "./task-states.js";
import { ALL, ownedBy, type ListQuery, type Scope, type TaskStore } from "./task-store.js";
import type { TaskStoreTuning } from "./task-store-tuning.js";

/**
 * The behaviour every TaskStore must have, as node:test tests. Each implementation's test file calls
 * defineTaskStoreConformanceTests with a way to make empty databases; every test gets its own.
 */
export interface ConformanceTarget {
  /** Shown in the test names. */
  name: string;
  /** A new, empty database: a fresh file, a fresh schema. */
  createDatabase(): Promise<TestDatabase>;
}

export interface TestDatabase {
  /** A new store on this database, with its own connection(s), not yet migrated. */
  openStore(tuning?: TaskStoreTuning): Promise<TaskStore>;
  /** Removes the database. Stores opened on it are closed first by the suite. */
  drop(): Promise<void>;
}

export function defineTaskStoreConformanceTests(target: ConformanceTarget): void {
  const databases: TestDatabase[] = [];
  const openStores: TaskStore[] = [];

  async function freshDatabase(): Promise<TestDatabase> {
    const database = await target.createDatabase();
    databases.push(database);
    return database;
  }
  async function open(database: TestDatabase, tuning?: TaskStoreTuning): Promise<TaskStore> {
    const store = await database.openStore(tuning);
    openStores.push(store);
    return store;
  }
  /** A migrated store on a fresh database. */
  async function freshStore(tuning?: TaskStoreTuning): Promise<{ store: TaskStore; database: TestDatabase }> {
    const database = await freshDatabase();
    const store = await open(database, tuning);
    await store.migrate();
    return { store, database };
  }

  after(async () => {
    for (const store of openStores.splice(0)) await store.close();
    for (const database of databases.splice(0)) await database.drop();
  });

  describe(`TaskStore conformance: ${target.name}`, () => {
    describe("migrations", () => {
      test("running migrate twice changes nothing and the store works", async () => {
        const { store } = await freshStore();
        await store.migrate();
        const task = newTask({ name: "after-two-migrations" });
        await store.insert(task, "");
        assertSameTask((await store.get(task.id, ALL))?.task, task);
      });

      test("several stores migrating one database at once apply each step once", async () => {
        const database = await freshDatabase();
        const stores = await Promise.all([open(database), open(database), open(database), open(database)]);
        await Promise.all(stores.map((store) => store.migrate()));
        const [first, second] = stores;
        assert.ok(first && second);
        const task = newTask();
        await first.insert(task, "");
        assertSameTask((await second.get(task.id, ALL))?.task, task);
      });
    });

    describe("insert and get", () => {
      test("get returns every field of the inserted task and its bookkeeping", async () => {
        const { store } = await freshStore();
        const task = fullTask();
        const before = Date.now();
        await store.insert(task, "alice");
        const after = Date.now();
        const record = await store.get(task.id, ALL);
        assert.ok(record, "the task is found");
        assertSameTask(record.task, task);
        assert.equal(record.owner, "alice");
        assert.equal(record.version, 1);
        assert.equal(record.backendHandle, "");
        assert.ok(record.updatedAt.getTime() >= before && record.updatedAt.getTime() <= after, "updatedAt is the insert time");
        assertSameTask((await store.get(task.id, ownedBy("alice")))?.task, task);
      });

      test("an id already stored is refused with TaskExistsError and the first task stays", async () => {
        const { store } = await freshStore();
        const task = newTask({ name: "first" });
        await store.insert(task, "");
        await assert.rejects(store.insert(newTask({ id: task.id, name: "second" }), ""), TaskExistsError);
        assert.equal((await store.get(task.id, ALL))?.task.name, "first");
      });

      test("an unknown id is not found", async () => {
        const { store } = await freshStore();
        assert.equal(await store.get(uuidv7(), ALL), undefined);
      });

      test("a task from get is the caller's own: changing it changes neither the store nor the next get", async () => {
        const { store } = await freshStore();
        const task = fullTask();
        await store.insert(task, "");
        const first = await store.get(task.id, ALL);
        assert.ok(first);
        first.task.name = "changed";
        for (const input of first.task.inputs) input.content = "";
        first.task.logs = [];
        assertSameTask((await store.get(task.id, ALL))?.task, task);
      });
    });

    describe("concurrent inserts", () => {
      test("200 concurrent inserts are all stored, each readable as soon as its insert resolves", async () => {
        const { store } = await freshStore();
        const tasks = Array.from({ length: 200 }, (_, index) => newTask({ name: `c${index}`, tags: { batch: "b", n: String(index) } }));
        const seen = await Promise.all(
          tasks.map(async (task, index) => {
            await store.insert(task, index % 2 === 0 ? "alice" : "bob");
            return (await store.get(task.id, ALL))?.task.name;
          }),
        );
        assert.deepEqual(seen, tasks.map((task) => task.name));
        const page = await store.list({ pageSize: 2047, view: View.BASIC, tags: [["batch", "b"]] }, ALL);
        assert.equal(page.tasks.length, 200);
        assert.equal((await store.list({ pageSize: 2047, view: View.MINIMAL }, ownedBy("bob"))).tasks.length, 100);
      });

      test("a taken id among concurrent inserts fails that insert alone; the others are stored", async () => {
        const { store } = await freshStore();
        const existing = newTask({ name: "first" });
        await store.insert(existing, "");
        const others = Array.from({ length: 20 }, (_, index) => newTask({ name: `o${index}`, tags: { k: String(index) } }));
        const duplicate = newTask({ id: existing.id, name: "second", tags: { k: "dup" } });
        const outcomes = await Promise.allSettled([...others.slice(0, 10), duplicate, ...others.slice(10)].map((task) => store.insert(task, "")));
        assert.equal(outcomes.filter((outcome) => outcome.status === "rejected").length, 1);
        const failed = outcomes[10];
        assert.ok(failed?.status === "rejected" && failed.reason instanceof TaskExistsError, "the duplicate is refused with TaskExistsError");
        for (const task of others) assert.equal((await store.get(task.id, ALL))?.task.name, task.name);
        const kept = await store.get(existing.id, ALL);
        assert.equal(kept?.task.name, "first");
        // The refused task's tags were rolled back with it: the first task still has none.
        assert.equal((await store.list({ pageSize: 10, view: View.MINIMAL, tags: [["k", "dup"]] }, ALL)).tasks.length, 0);
      });

      test("a task that fails to write fails alone: the same id twice in one burst stores the first", async () => {
        const { store } = await freshStore();
        const task = newTask({ name: "one" });
        const outcomes = await Promise.allSettled([store.insert(task, ""), store.insert(newTask({ id: task.id, name: "two" }), "")]);
        assert.equal(outcomes[0]?.status, "fulfilled");
        assert.ok(outcomes[1]?.status === "rejected" && outcomes[1].reason instanceof TaskExistsError);
        assert.equal((await store.get(task.id, ALL))?.task.name, "one");
      });

      test("a burst larger than insertBatchMax is stored in full; a repeated id in it is refused, its tags with it", async () => {
        const { store } = await freshStore({ insertBatchMax: 7 });
        const tasks = Array.from({ length: 50 }, (_, index) => newTask({ name: `t${index}`, tags: { name: `t${index}` } }));
        const repeat = newTask({ id: tasks[3]!.id, name: "repeat", tags: { name: "repeat" } });
        const outcomes = await Promise.allSettled([...tasks, repeat].map((task) => store.insert(task, "")));
        assert.deepEqual(outcomes.slice(0, 50).map((outcome) => outcome.status), Array(50).fill("fulfilled"));
        assert.ok(outcomes[50]?.status === "rejected" && outcomes[50].reason instanceof TaskExistsError);
        assert.equal((await store.list({ pageSize: 100, view: View.MINIMAL }, ALL)).tasks.length, 50);
        assert.equal((await store.get(tasks[3]!.id, ALL))?.task.name, "t3");
        assert.equal((await store.list({ pageSize: 10, view: View.MINIMAL, tags: [["name", "repeat"]] }, ALL)).tasks.length, 0);
      });

      test("inserts still waiting for their group commit are written by close, not dropped", async () => {
        const database = await freshDatabase();
        const store = await open(database);
        await store.migrate();
        const tasks = Array.from({ length: 5 }, (_, index) => newTask({ name: `t${index}` }));
        const inserting = Promise.all(tasks.map((task) => store.insert(task, "")));
        await store.close();
        await inserting;
        const reopened = await open(database);
        for (const task of tasks) assert.equal((await reopened.get(task.id, ALL))?.task.name, task.name);
      });

      test("insertBatchMax must be a positive integer", async () => {
        const database = await freshDatabase();
        await assert.rejects(open(database, { insertBatchMax: 0 }), /insertBatchMax must be a positive integer, got 0/);
      });
    });

    describe("scope", () => {
      test("another owner's task is absent from get", async () => {
        const { store } = await freshStore();
        const task = newTask();
        await store.insert(task, "alice");
        assert.equal(await store.get(task.id, ownedBy("bob")), undefined);
        assert.equal(await store.get(task.id, ownedBy("")), undefined);
        assert.ok(await store.get(task.id, ownedBy("alice")));
      });

      test("list shows only the scope's tasks, across every page, and all of them for ALL", async () => {
        const { store } = await freshStore();
        const alice = await insertMany(store, 5, "alice");
        const bob = await insertMany(store, 4, "bob");
        assert.deepEqual(await listAllIds(store, { pageSize: 2 }, ownedBy("alice")), newestFirst(alice));
        assert.deepEqual(await listAllIds(store, { pageSize: 3 }, ownedBy("bob")), newestFirst(bob));
        assert.deepEqual(await listAllIds(store, { pageSize: 4 }, ALL), newestFirst([...alice, ...bob]));
        assert.deepEqual(await listAllIds(store, { pageSize: 4 }, ownedBy("carol")), []);
      });

      test("a page token issued to one owner is refused for another", async () => {
        const { store } = await freshStore();
        await insertMany(store, 3, "alice");
        await insertMany(store, 3, "bob");
        const page = await store.list(query({ pageSize: 1 }), ownedBy("alice"));
        assert.ok(page.nextPageToken);
        await assert.rejects(store.list(query({ pageSize: 1, pageToken: page.nextPageToken }), ownedBy("bob")), InvalidPageTokenError);
        await assert.rejects(store.list(query({ pageSize: 1, pageToken: page.nextPageToken }), ALL), InvalidPageTokenError);
      });
    });

    describe("list filters", () => {
      test("state keeps only tasks in that state", async () => {
        const { store } = await freshStore();
        const queued = await insertMany(store, 3, "");
        const running = newTask({ state: State.RUNNING });
        await store.insert(running, "");
        const ids = await listAllIds(store, { pageSize: 2, state: State.QUEUED }, ALL);
        assert.deepEqual(ids, newestFirst(queued));
        assert.deepEqual(await listAllIds(store, { pageSize: 2, state: State.RUNNING }, ALL), [running.id]);
        assert.deepEqual(await listAllIds(store, { pageSize: 2, state: State.COMPLETE }, ALL), []);
      });

      test("tags match as TES 1.1 says: a value must match, an empty value needs only the key, all ANDed", async () => {
        const { store } = await freshStore();
        const tagged = {
          fooBar: newTask({ tags: { foo: "bar" } }),
          fooBat: newTask({ tags: { foo: "bat" } }),
          fooEmpty: newTask({ tags: { foo: "" } }),
          fooBarBazBat: newTask({ tags: { foo: "bar", baz: "bat" } }),
          none: newTask({ tags: {} }),
        };
        for (const task of Object.values(tagged)) await store.insert(task, "");
        const cases: Array<[filter: Array<[string, string]>, expected: Task[]]> = [
          [[["foo", "bar"]], [tagged.fooBar, tagged.fooBarBazBat]],
          [[["foo", "bat"]], [tagged.fooBat]],
          [[["foo", ""]], [tagged.fooBar, tagged.fooBat, tagged.fooEmpty, tagged.fooBarBazBat]],
          [[["foo", "bar"], ["baz", "bat"]], [tagged.fooBarBazBat]],
          [[["baz", "bat"], ["foo", "bar"]], [tagged.fooBarBazBat]],
          [[["foo", "bar"], ["baz", ""]], [tagged.fooBarBazBat]],
          [[["foo", "bar"], ["lorem", "ipsum"], ["baz", ""]], []],
          [[["nope", ""]], []],
          [[["Foo", "bar"]], []],
        ];
        for (const [tags, expected] of cases) {
          const ids = await listAllIds(store, { pageSize: 2, tags }, ALL);
          assert.deepEqual(ids, newestFirst(expected.map((task) => task.id)), `tags ${JSON.stringify(tags)}`);
        }
      });

      test("name_prefix takes % and _ literally", async () => {
        const { store } = await freshStore();
        const names = ["a%b", "a_b", "axb", "a%", "A%b", "ab%", "a\\b", "a"];
        const idsNamed = await insertNamed(store, names);
        assert.deepEqual(await listAllIds(store, { pageSize: 3, namePrefix: "a%" }, ALL), idsNamed("a%b", "a%"));
        assert.deepEqual(await listAllIds(store, { pageSize: 3, namePrefix: "a_" }, ALL), idsNamed("a_b"));
        assert.deepEqual(await listAllIds(store, { pageSize: 3, namePrefix: "a\\" }, ALL), idsNamed("a\\b"));
        assert.deepEqual(await listAllIds(store, { pageSize: 3, namePrefix: "a" }, ALL), idsNamed("a%b", "a_b", "axb", "a%", "ab%", "a\\b", "a"));
        assert.deepEqual(await listAllIds(store, { pageSize: 3, namePrefix: "" }, ALL), idsNamed(...names));
        assert.deepEqual(await listAllIds(store, { pageSize: 3, namePrefix: "b" }, ALL), []);
      });

      test("name_prefix matches names with characters beyond U+FFFF and is case-sensitive", async () => {
        const { store } = await freshStore();
        const idsNamed = await insertNamed(store, ["ab\u{1F600}", "ab\uffff", "abc", "ab", "aB", "b", "é-task", "é", "e"]);
        assert.deepEqual(await listAllIds(store, { pageSize: 10, namePrefix: "ab" }, ALL), idsNamed("ab\u{1F600}", "ab\uffff", "abc", "ab"));
        assert.deepEqual(await listAllIds(store, { pageSize: 10, namePrefix: "ab\u{1F600}" }, ALL), idsNamed("ab\u{1F600}"));
        assert.deepEqual(await listAllIds(store, { pageSize: 10, namePrefix: "é" }, ALL), idsNamed("é-task", "é"));
        assert.deepEqual(await listAllIds(store, { pageSize: 10, namePrefix: "\u{10FFFF}" }, ALL), []);
      });

      test("filters combine with each other and with the scope", async () => {
        const { store } = await freshStore();
        const match = newTask({ name: "align-1", tags: { project: "p1" } });
        await store.insert(match, "alice");
        await store.insert(newTask({ name: "align-2", tags: { project: "p1" } }), "bob");
        await store.insert(newTask({ name: "align-3", tags: { project: "p2" } }), "alice");
        await store.insert(newTask({ name: "call-1", tags: { project: "p1" } }), "alice");
        await store.insert(newTask({ name: "align-4", state: State.RUNNING, tags: { project: "p1" } }), "alice");
        const filters = { pageSize: 5, namePrefix: "align", state: State.QUEUED, tags: [["project", "p1"]] as Array<[string, string]> };
        assert.deepEqual(await listAllIds(store, filters, ownedBy("alice")), [match.id]);
        assert.equal((await listAllIds(store, filters, ALL)).length, 2);
      });
    });

    describe("paging", () => {
      test("pages run newest first; the last page has no token, even when it is exactly full", async () => {
        const { store } = await freshStore();
        const ids = await insertMany(store, 6, "");
        const first = await store.list(query({ pageSize: 3 }), ALL);
        assert.deepEqual(idsOf(first.tasks), newestFirst(ids).slice(0, 3));
        assert.ok(first.nextPageToken);
        const second = await store.list(query({ pageSize: 3, pageToken: first.nextPageToken }), ALL);
        assert.deepEqual(idsOf(second.tasks), newestFirst(ids).slice(3));
        assert.equal(second.nextPageToken, undefined);
        const whole = await store.list(query({ pageSize: 6 }), ALL);
        assert.equal(whole.tasks.length, 6);
        assert.equal(whole.nextPageToken, undefined);
        const empty = await freshStore();
        assert.deepEqual(await empty.store.list(query({ pageSize: 3 }), ALL), { tasks: [] });
      });

      test("tasks inserted between pages cause no duplicates and no skips", async () => {
        const { store } = await freshStore();
        const existing = await insertMany(store, 40, "");
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await store.list(query({ pageSize: 7, pageToken: token }), ALL);
          seen.push(...idsOf(page.tasks));
          token = page.nextPageToken;
          await insertMany(store, 3, "");
        } while (token !== undefined);
        assert.deepEqual(seen, newestFirst(existing));
      });

      test("a page token reused with other filters is refused; tag order does not matter", async () => {
        const { store } = await freshStore();
        for (let i = 0; i < 4; i++) await store.insert(newTask({ name: `n${i}`, tags: { a: "1", b: "2" } }), "");
        const filters = { pageSize: 1, namePrefix: "n", tags: [["a", "1"], ["b", "2"]] as Array<[string, string]> };
        const page = await store.list(query(filters), ALL);
        const token = page.nextPageToken;
        assert.ok(token);
        for (const changed of [
          { namePrefix: "n0" },
          { namePrefix: undefined },
          { state: State.QUEUED },
          { tags: [["a", "1"]] as Array<[string, string]> },
          { tags: [["a", "1"], ["b", ""]] as Array<[string, string]> },
        ]) {
          await assert.rejects(store.list(query({ ...filters, ...changed, pageToken: token }), ALL), InvalidPageTokenError, JSON.stringify(changed));
        }
        const reordered = await store.list(query({ ...filters, tags: [["b", "2"], ["a", "1"]], pageToken: token }), ALL);
        assert.equal(reordered.tasks.length, 1);
        const otherView = await store.list(query({ ...filters, view: View.FULL, pageToken: token }), ALL);
        assert.equal(otherView.tasks.length, 1);
      });

      test("a tampered or foreign page token is refused with InvalidPageTokenError, never a crash", async () => {
        const { store } = await freshStore();
        await insertMany(store, 3, "");
        const page = await store.list(query({ pageSize: 1 }), ALL);
        const token = page.nextPageToken ?? "";
        const body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
        const encode = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
        const bad = [
          "garbage",
          "!!!",
          "x".repeat(10_000),
          token.slice(0, -3),
          `${token}AA`,
          Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString("base64url"),
          encode({}),
          encode([]),
          encode(42),
          encode(null),
          encode({ ...body, f: "AAAAAAAAAAAAAAAA" }),
          encode({ ...body, v: 2 }),
          encode({ ...body, a: 7 }),
          encode({ ...body, a: "" }),
          encode({ ...body, a: "z".repeat(1000) }),
        ];
        for (const pageToken of bad) {
          await assert.rejects(store.list(query({ pageSize: 1, pageToken }), ALL), InvalidPageTokenError, pageToken.slice(0, 40));
        }
        // Altering the cursor itself is harmless: it only moves the position within the caller's own scope.
        const moved = await store.list(query({ pageSize: 5, pageToken: encode({ ...body, a: "ffffffff" }) }), ALL);
        assert.equal(moved.tasks.length, 3);
      });
    });

    describe("views", () => {
      test("MINIMAL has id and state only; BASIC drops the bulky text; FULL has everything", async () => {
        const { store } = await freshStore();
        const task = fullTask();
        await store.insert(task, "");
        const minimal = await store.list(query({ pageSize: 5, view: View.MINIMAL }), ALL);
        assertSameTask(minimal.tasks[0], create(TaskSchema, { id: task.id, state: task.state }));
        const full = await store.list(query({ pageSize: 5, view: View.FULL }), ALL);
        assertSameTask(full.tasks[0], task);
        const basic = await store.list(query({ pageSize: 5, view: View.BASIC }), ALL);
        const expected = fullTask();
        Object.assign(expected, { id: task.id, creationTime: task.creationTime });
        for (const input of expected.inputs) input.content = "";
        for (const attempt of expected.logs) {
          attempt.systemLogs = [];
          for (const log of attempt.logs) Object.assign(log, { stdout: "", stderr: "" });
        }
        assertSameTask(basic.tasks[0], expected);
        assert.equal(basic.tasks[0]?.logs[0]?.logs[0]?.exitCode, 3, "BASIC keeps exit codes");
      });
    });

    describe("getView", () => {
      test("answers each view exactly as list does, in the caller's scope only", async () => {
        const { store } = await freshStore();
        const task = fullTask();
        await store.insert(task, "alice");
        for (const view of [View.MINIMAL, View.BASIC, View.FULL]) {
          const listed = (await store.list(query({ pageSize: 1, view }), ALL)).tasks[0];
          assert.ok(listed);
          assertSameTask(await store.getView(task.id, ALL, view), listed);
          assertSameTask(await store.getView(task.id, ownedBy("alice"), view), listed);
          // Another owner's task and an unknown id are both absent, whatever the view (and whether cached).
          assert.equal(await store.getView(task.id, ownedBy("bob"), view), undefined, `bob, view ${view}`);
          assert.equal(await store.getView(uuidv7(), ALL, view), undefined);
        }
        assertSameTask(await store.getView(task.id, ALL, View.MINIMAL), create(TaskSchema, { id: task.id, state: State.QUEUED }));
      });

      test("GetTasks asked together, of different tasks, views and scopes, each get their own answer", async () => {
        const { store } = await freshStore();
        const alices = fullTask();
        const bobs = newTask({ name: "bobs", state: State.RUNNING });
        await store.insert(alices, "alice");
        await store.insert(bobs, "bob");
        // All asked in one turn, as concurrent requests are: read together (one SQLite transaction, one PostgreSQL statement).
        const asked = [
          [alices.id, ownedBy("alice"), View.FULL],
          [bobs.id, ownedBy("bob"), View.MINIMAL],
          [alices.id, ownedBy("bob"), View.BASIC],
          [uuidv7(), ALL, View.BASIC],
          [bobs.id, ALL, View.BASIC],
          [alices.id, ALL, View.MINIMAL],
        ] as const;
        const answers = await Promise.all(asked.map(([id, scope, view]) => store.getView(id, scope, view)));
        assertSameTask(answers[0], alices);
        assertSameTask(answers[1], create(TaskSchema, { id: bobs.id, state: State.RUNNING }));
        assert.equal(answers[2], undefined, "another owner's task");
        assert.equal(answers[3], undefined, "an unknown id");
        assert.equal(answers[4]?.name, "bobs");
        assertSameTask(answers[5], create(TaskSchema, { id: alices.id, state: State.QUEUED }));
      });

      test("GetTasks waiting when the store closes are answered; one asked after close is refused", async () => {
        const database = await freshDatabase();
        const store = await open(database);
        await store.migrate();
        const task = fullTask();
        await store.insert(task, "");
        const reading = Promise.all([store.getView(task.id, ALL, View.BASIC), store.getView(task.id, ALL, View.MINIMAL)]);
        await store.close();
        const [basic, minimal] = await reading;
        assert.equal(basic?.name, task.name);
        assert.equal(minimal?.state, State.QUEUED);
        await assert.rejects(store.getView(task.id, ALL, View.BASIC));
      });

      test("a view is read-only: changing it throws, and the next read is unchanged", async () => {
        const { store } = await freshStore();
        const task = fullTask();
        await store.insert(task, "");
        for (const view of [View.BASIC, View.FULL]) {
          const shown = await store.getView(task.id, ALL, view);
          assert.ok(shown);
          assert.throws(() => {
            shown.name = "changed";
          }, TypeError);
          assert.throws(() => {
            shown.logs[0]!.logs[0]!.exitCode = 9;
          }, TypeError);
          assert.throws(() => shown.tags["new"] = "x", TypeError);
          assert.equal((await store.getView(task.id, ALL, view))?.name, task.name);
        }
      });

      test("every update shows at once, also one written by another process (another store on the database)", async () => {
        const { store, database } = await freshStore();
        const other = await open(database);
        const task = fullTask();
        await store.insert(task, "");
        assert.equal((await store.getView(task.id, ALL, View.BASIC))?.state, State.QUEUED);
        assert.equal((await store.getView(task.id, ALL, View.FULL))?.state, State.QUEUED);
        // The other process (a worker) moves the task on; this store has the old views decoded.
        const running = withState(task, State.RUNNING);
        running.logs[0]!.systemLogs.push("started");
        await other.update(task.id, 1, { task: running });
        for (const view of [View.MINIMAL, View.BASIC, View.FULL]) {
          assert.equal((await store.getView(task.id, ALL, view))?.state, State.RUNNING, `view ${view}`);
        }
        assert.deepEqual((await store.getView(task.id, ALL, View.FULL))?.logs[0]?.systemLogs, ["preempted once", "started"]);
        await store.update(task.id, 2, { task: withState(running, State.COMPLETE) });
        assert.equal((await other.getView(task.id, ALL, View.BASIC))?.state, State.COMPLETE);
        assert.equal((await store.getView(task.id, ALL, View.BASIC))?.state, State.COMPLETE);
      });
    });

    describe("update", () => {
      test("a matching version replaces the task, bumps the version and keeps the handle unless given", async () => {
        const { store } = await freshStore();
        const task = newTask();
        await store.insert(task, "alice");
        const running = withState(task, State.RUNNING);
        const first = await store.update(task.id, 1, { task: running, backendHandle: "batch-task-1" });
        assert.ok(first);
        assert.equal(first.version, 2);
        assert.equal(first.backendHandle, "batch-task-1");
        assert.equal(first.owner, "alice");
        await sleep(2);
        const logged = withState(running, State.RUNNING);
        logged.logs.push(create(TaskLogSchema, { startTime: "2026-01-01T00:00:00Z" }));
        const second = await store.update(task.id, 2, { task: logged });
        assert.ok(second);
        assert.equal(second.version, 3);
        assert.equal(second.backendHandle, "batch-task-1");
        assert.ok(second.updatedAt.getTime() > first.updatedAt.getTime());
        const stored = await store.get(task.id, ownedBy("alice"));
        assert.ok(stored);
        assertSameTask(stored.task, logged);
        assert.equal(stored.version, 3);
        assert.equal(stored.backendHandle, "batch-task-1");
        assert.deepEqual(await listAllIds(store, { pageSize: 5, state: State.RUNNING }, ALL), [task.id]);
        assert.deepEqual(await listAllIds(store, { pageSize: 5, state: State.QUEUED }, ALL), []);
      });

      test("a stale version loses and changes nothing", async () => {
        const { store } = await freshStore();
        const task = newTask();
        await store.insert(task, "");
        assert.ok(await store.update(task.id, 1, { task: withState(task, State.INITIALIZING) }));
        assert.equal(await store.update(task.id, 1, { task: withState(task, State.RUNNING), backendHandle: "late" }), undefined);
        const stored = await store.get(task.id, ALL);
        assert.equal(stored?.task.state, State.INITIALIZING);
        assert.equal(stored?.version, 2);
        assert.equal(stored?.backendHandle, "");
      });

      test("of concurrent updates from the same version, exactly one wins", async () => {
        const database = await freshDatabase();
        const stores = [await open(database), await open(database)];
        for (const store of stores) await store.migrate();
        const [first] = stores;
        assert.ok(first);
        const task = newTask();
        await first.insert(task, "");
        const attempts = Array.from({ length: 10 }, (_, index) => {
          const store = stores[index % stores.length] ?? first;
          return store.update(task.id, 1, { task: withState(task, State.INITIALIZING), backendHandle: `attempt-${index}` });
        });
        const results = await Promise.all(attempts);
        const winners = results.filter((result) => result !== undefined);
        assert.equal(winners.length, 1);
        const stored = await first.get(task.id, ALL);
        assert.equal(stored?.version, 2);
        assert.equal(stored?.backendHandle, winners[0]?.backendHandle);
      });

      test("a terminal state never changes to another state; the same terminal state may gain logs", async () => {
        const { store } = await freshStore();
        for (const terminal of TERMINAL_STATES) {
          const task = newTask();
          await store.insert(task, "");
          const ended = await store.update(task.id, 1, { task: withState(task, terminal) });
          assert.ok(ended);
          for (const next of [State.QUEUED, State.RUNNING, State.CANCELING, ...TERMINAL_STATES.filter((state) => state !== terminal)]) {
            await assert.rejects(store.update(task.id, 2, { task: withState(task, next) }), TerminalStateError, `${State[terminal]} -> ${State[next]}`);
          }
          const withLogs = withState(task, terminal);
          withLogs.logs = [create(TaskLogSchema, { systemLogs: ["cleaned up"] })];
          const logged = await store.update(task.id, 2, { task: withLogs });
          assert.ok(logged, `${State[terminal]} may gain logs`);
          const stored = await store.get(task.id, ALL);
          assert.equal(stored?.task.state, terminal);
          assert.deepEqual(stored?.task.logs[0]?.systemLogs, ["cleaned up"]);
        }
      });

      test("an unknown id is TaskNotFoundError; a task carrying another id is refused", async () => {
        const { store } = await freshStore();
        const task = newTask();
        await assert.rejects(store.update(task.id, 1, { task }), TaskNotFoundError);
        await store.insert(task, "");
        await assert.rejects(store.update(task.id, 1, { task: newTask() }), Error);
        assert.equal((await store.get(task.id, ALL))?.version, 1);
      });
    });

    describe("findStale", () => {
      test("returns tasks in the given states written before the time, least recently written first, up to the limit", async () => {
        const { store } = await freshStore();
        const oldQueued = newTask();
        const oldRunning = newTask({ state: State.RUNNING });
        const oldComplete = newTask({ state: State.COMPLETE });
        await store.insert(oldQueued, "alice");
        await sleep(3);
        await store.insert(oldRunning, "bob");
        await store.insert(oldComplete, "");
        await sleep(3);
        const cutoff = new Date();
        await sleep(3);
        const recent = newTask();
        await store.insert(recent, "");
        const stale = await store.findStale([State.QUEUED, State.RUNNING], cutoff, 10);
        assert.deepEqual(idsOf(stale.map((record) => record.task)), [oldQueued.id, oldRunning.id]);
        assert.deepEqual(stale.map((record) => record.owner), ["alice", "bob"]);
        assert.deepEqual(idsOf((await store.findStale([State.QUEUED, State.RUNNING], cutoff, 1)).map((r) => r.task)), [oldQueued.id]);
        assert.deepEqual(await store.findStale([], cutoff, 10), []);
        // An update makes a task fresh again.
        await store.update(oldQueued.id, 1, { task: withState(oldQueued, State.INITIALIZING) });
        const later = await store.findStale([State.QUEUED, State.INITIALIZING, State.RUNNING], cutoff, 10);
        assert.deepEqual(idsOf(later.map((record) => record.task)), [oldRunning.id]);
      });
    });

    describe("trace context", () => {
      test("the traceparent given at insert is kept with the task through updates; none given is \"\"", async () => {
        const { store } = await freshStore();
        const traced = newTask();
        const untraced = newTask();
        const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await store.insert(traced, "alice", traceparent);
        await store.insert(untraced, "alice");
        assert.equal((await store.get(traced.id, ALL))?.traceContext, traceparent);
        assert.equal((await store.get(untraced.id, ownedBy("alice")))?.traceContext, "");
        const written = await store.update(traced.id, 1, { task: withState(traced, State.RUNNING), backendHandle: "h" });
        assert.equal(written?.traceContext, traceparent, "the written record carries it");
        assert.equal((await store.get(traced.id, ALL))?.traceContext, traceparent, "an update leaves it");
        const stale = await store.findStale([State.RUNNING], new Date(Date.now() + 1000), 10);
        assert.deepEqual(stale.map((record) => record.traceContext), [traceparent]);
      });

      test("concurrent inserts (one group commit) each keep their own traceparent", async () => {
        const { store } = await freshStore();
        const tasks = Array.from({ length: 50 }, () => newTask());
        const contexts = tasks.map((_, i) => `00-${i.toString(16).padStart(32, "a")}-${i.toString(16).padStart(16, "b")}-01`);
        await Promise.all(tasks.map((task, i) => store.insert(task, "", contexts[i])));
        for (const [i, task] of tasks.entries()) assert.equal((await store.get(task.id, ALL))?.traceContext, contexts[i]);
      });
    });

    describe("findFollowed", () => {
      test("returns the bookkeeping of tasks in the states that have a handle, least recently written first, up to the limit", async () => {
        const { store } = await freshStore();
        const first = newTask();
        const second = newTask();
        const noHandle = newTask({ state: State.RUNNING });
        const otherState = newTask();
        for (const task of [first, second, noHandle, otherState]) await store.insert(task, "bob", `00-${"1".repeat(32)}-${"2".repeat(16)}-01`);
        await store.insert(newTask({ state: State.COMPLETE }), "");
        await store.update(second.id, 1, { task: withState(second, State.INITIALIZING), backendHandle: "handle-2" });
        await sleep(3);
        await store.update(first.id, 1, { task: withState(first, State.RUNNING), backendHandle: "handle-1" });
        await store.update(otherState.id, 1, { task: withState(otherState, State.CANCELING), backendHandle: "handle-3" });
        const followed = await store.findFollowed([State.INITIALIZING, State.RUNNING], 10);
        assert.deepEqual(followed, [
          { id: second.id, state: State.INITIALIZING, version: 2, backendHandle: "handle-2", traceContext: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` },
          { id: first.id, state: State.RUNNING, version: 2, backendHandle: "handle-1", traceContext: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` },
        ]);
        assert.deepEqual((await store.findFollowed([State.INITIALIZING, State.RUNNING], 1)).map((t) => t.id), [second.id]);
        assert.deepEqual(await store.findFollowed([], 10), []);
        assert.deepEqual(await store.findFollowed([State.RUNNING], 0), []);
        // A write makes a task the most recent: it is followed last.
        await sleep(3);
        await store.update(second.id, 2, { task: withState(second, State.RUNNING) });
        assert.deepEqual((await store.findFollowed([State.INITIALIZING, State.RUNNING], 10)).map((t) => [t.id, t.version]), [
          [first.id, 2],
          [second.id, 3],
        ]);
      });
    });

    describe("countByState", () => {
      test("counts each state asked for, in every scope: 0 for an empty state, nothing for states not asked for", async () => {
        const { store } = await freshStore();
        const live = [State.QUEUED, State.INITIALIZING, State.RUNNING, State.CANCELING];
        assert.deepEqual(
          await store.countByState(live),
          new Map([[State.QUEUED, 0], [State.INITIALIZING, 0], [State.RUNNING, 0], [State.CANCELING, 0]]),
        );
        const first = newTask();
        const second = newTask();
        await store.insert(first, "alice");
        await store.insert(second, "bob");
        await store.insert(newTask(), "bob");
        await store.insert(newTask({ state: State.RUNNING }), "");
        await store.insert(newTask({ state: State.COMPLETE }), "alice");
        await store.insert(newTask({ state: State.EXECUTOR_ERROR }), "");
        assert.deepEqual(
          await store.countByState(live),
          new Map([[State.QUEUED, 3], [State.INITIALIZING, 0], [State.RUNNING, 1], [State.CANCELING, 0]]),
        );
        // States move: the counts follow.
        await store.update(first.id, 1, { task: withState(first, State.INITIALIZING) });
        await store.update(second.id, 1, { task: withState(second, State.CANCELING) });
        assert.deepEqual(
          await store.countByState(live),
          new Map([[State.QUEUED, 1], [State.INITIALIZING, 1], [State.RUNNING, 1], [State.CANCELING, 1]]),
        );
        assert.deepEqual(await store.countByState([State.COMPLETE]), new Map([[State.COMPLETE, 1]]));
        assert.deepEqual(await store.countByState([]), new Map());
      });
    });

    describe("durability", () => {
      test("tasks survive closing and reopening the store", async () => {
        const database = await freshDatabase();
        const store = await database.openStore();
        await store.migrate();
        const task = fullTask();
        await store.insert(task, "alice");
        await store.update(task.id, 1, { task: withState(task, State.RUNNING), backendHandle: "h" });
        await store.close();
        const reopened = await open(database);
        await reopened.migrate();
        const record = await reopened.get(task.id, ownedBy("alice"));
        assert.ok(record);
        assertSameTask(record.task, withState(task, State.RUNNING));
        assert.equal(record.version, 2);
        assert.equal(record.backendHandle, "h");
        assert.deepEqual(await listAllIds(reopened, { pageSize: 5, tags: [["project", "p1"]] }, ALL), [task.id]);
      });

      test("an insert after close is refused with an error (the process goes on) and stores nothing", async () => {
        const database = await freshDatabase();
        const store = await database.openStore();
        await store.migrate();
        await store.close();
        const task = fullTask();
        await assert.rejects(store.insert(task, "alice"));
        const reopened = await open(database);
        await reopened.migrate();
        assert.equal(await reopened.get(task.id, ALL), undefined);
      });
    });
  });
}

function newTask(fields: Partial<Pick<Task, "id" | "name" | "state" | "tags">> = {}): Task {
  return create(TaskSchema, {
    id: fields.id ?? uuidv7(),
    state: fields.state ?? State.QUEUED,
    name: fields.name ?? "task",
    tags: fields.tags ?? {},
    executors: [{ image: "alpine", command: ["true"] }],
    creationTime: new Date().toISOString(),
  });
}

/** A task with every field set, the bulky BASIC-hidden parts included. */
function fullTask(): Task {
  return create(TaskSchema, {
    id: uuidv7(),
    state: State.QUEUED,
    name: "align sample 42",
    description: "bwa mem, then samtools",
    inputs: [
      { name: "reads", description: "fastq", url: "https://example.org/reads.fq", path: "/data/reads.fq", type: 0, streamable: true },
      { name: "script", path: "/data/run.sh", content: "#!/bin/sh\necho hi\n" },
    ],
    outputs: [{ name: "bam", url: "s3://bucket/out/", path: "/data/out/*.bam", pathPrefix: "/data/out/", type: 1 }],
    resources: { cpuCores: 4, preemptible: true, ramGb: 15.5, diskGb: 100, zones: ["westeurope-1"], backendParameters: { vm_size: "Standard_D4s_v5" }, backendParametersStrict: true },
    executors: [
      { image: "biocontainers/bwa:0.7.17", command: ["bwa", "mem", "ref.fa", "reads.fq"], workdir: "/data", stdin: "/data/in", stdout: "/data/out.sam", stderr: "/data/err", env: { THREADS: "4" }, ignoreError: true },
      { image: "alpine", command: ["true"] },
    ],
    volumes: ["/scratch"],
    tags: { project: "p1", sample: "s42", empty: "" },
    logs: [
      {
        logs: [{ startTime: "2026-01-01T00:00:01Z", endTime: "2026-01-01T00:10:00Z", stdout: "out tail", stderr: "err tail", exitCode: 3 }],
        metadata: { node: "n1" },
        startTime: "2026-01-01T00:00:00Z",
        endTime: "2026-01-01T00:11:00Z",
        outputs: [{ url: "s3://bucket/out/a.bam", path: "/data/out/a.bam", sizeBytes: 9_007_199_254_740_993n }],
        systemLogs: ["preempted once"],
      },
    ],
    creationTime: "2026-01-01T00:00:00.123Z",
  });
}

function withState(task: Task, state: State): Task {
  const changed = clone(TaskSchema, task);
  changed.state = state;
  return changed;
}

function query(fields: Partial<ListQuery> & { pageSize: number }): ListQuery {
  return { view: View.MINIMAL, ...fields };
}

async function insertMany(store: TaskStore, count: number, owner: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const task = newTask({ name: `task-${i}` });
    await store.insert(task, owner);
    ids.push(task.id);
  }
  return ids;
}

/** Inserts a task per name, one after another; answers the ids of the named ones, newest first (as list orders them). */
async function insertNamed(store: TaskStore, names: readonly string[]): Promise<(...wanted: string[]) => string[]> {
  const byName = new Map<string, string>();
  for (const name of names) {
    const task = newTask({ name });
    byName.set(name, task.id);
    await store.insert(task, "");
  }
  return (...wanted) => newestFirst(wanted.map((name) => byName.get(name) ?? ""));
}

/** Follows next_page_token to the end, checking that no page is larger than asked. */
async function listAllIds(store: TaskStore, fields: Partial<ListQuery> & { pageSize: number }, scope: Scope): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.list(query({ ...fields, pageToken }), scope);
    assert.ok(page.tasks.length <= fields.pageSize, "a page holds at most page_size tasks");
    ids.push(...idsOf(page.tasks));
    pageToken = page.nextPageToken;
    if (pageToken === undefined) return ids;
  }
  throw new Error("paging did not end");
}

function idsOf(tasks: readonly Task[]): string[] {
  return tasks.map((task) => task.id);
}

function newestFirst(ids: readonly string[]): string[] {
  return [...ids].sort().reverse();
}

function assertSameTask(actual: Task | undefined, expected: Task): void {
  assert.ok(actual, "a task is present");
  assert.deepEqual(toJson(TaskSchema, actual), toJson(TaskSchema, expected));
}
