import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupReadQueue } from "./group-read-queue.js";

/** A queue whose shared "transaction" records which reads ran inside each one, and how many it was told of. */
function recordingQueue(options: { failBegin?: Error; failEnd?: Error } = {}) {
  const transactions: string[][] = [];
  const told: number[] = [];
  let current: string[] | undefined;
  const queue = new GroupReadQueue((runAll, reads) => {
    told.push(reads);
    if (options.failBegin !== undefined) throw options.failBegin;
    current = [];
    transactions.push(current);
    runAll();
    current = undefined;
    if (options.failEnd !== undefined) throw options.failEnd;
  });
  const read = (name: string, value: unknown = name) => () => {
    assert.ok(current !== undefined, `${name} ran outside the shared transaction`);
    current.push(name);
    return value;
  };
  return { queue, transactions, told, read };
}

test("reads asked for in one turn run in one shared transaction, in the order asked, after the turn", async () => {
  const { queue, transactions, told, read } = recordingQueue();
  const answers = Promise.all([queue.add(read("a")), queue.add(read("b")), queue.add(read("c"))]);
  assert.deepEqual(transactions, [], "nothing runs before the turn ends");
  assert.deepEqual(await answers, ["a", "b", "c"]);
  assert.deepEqual(transactions, [["a", "b", "c"]]);

  assert.equal(await queue.add(read("d")), "d");
  assert.deepEqual(transactions, [["a", "b", "c"], ["d"]], "a later turn has a transaction of its own");
  assert.deepEqual(told, [3, 1], "the store is told how many reads share each (a lone one needs no BEGIN)");
});

test("a read that answers a promise is answered with what the promise settles to", async () => {
  const { queue, read } = recordingQueue();
  assert.equal(await queue.add(read("a", Promise.resolve(42))), 42);
});

test("a read that throws fails alone; the others of its turn are answered", async () => {
  const { queue, transactions, read } = recordingQueue();
  const failing = queue.add(() => {
    throw new Error("no such column");
  });
  const [first, second] = [queue.add(read("a")), queue.add(read("b"))];
  await assert.rejects(failing, /no such column/);
  assert.deepEqual([await first, await second], ["a", "b"]);
  assert.equal(transactions.length, 1);
});

test("when the shared transaction cannot begin, every read of the turn fails with its error", async () => {
  const { queue, read } = recordingQueue({ failBegin: new Error("The database connection is not open") });
  const reads = [queue.add(read("a")), queue.add(read("b"))];
  for (const answer of reads) await assert.rejects(answer, /The database connection is not open/);
});

test("reads already answered keep their answers when the transaction fails to end", async () => {
  const { queue, read } = recordingQueue({ failEnd: new Error("disk I/O error") });
  assert.deepEqual(await Promise.all([queue.add(read("a")), queue.add(read("b"))]), ["a", "b"]);
});

test("flush runs what waits at once; the end of the turn then finds nothing left to run", async () => {
  const { queue, transactions, read } = recordingQueue();
  const answer = queue.add(read("a"));
  queue.flush();
  assert.deepEqual(transactions, [["a"]]);
  assert.equal(await answer, "a");
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(transactions, [["a"]]);
});
