import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, test } from "node:test";
import { CoalescedAdds } from "./coalesced-adds.js";

/** A CoalescedAdds whose sendBatch records each batch and answers with `outcome`. */
function recording(batchMax: number, windowMs: number, outcome: () => Promise<unknown> = async () => undefined) {
  const batches: string[][] = [];
  const adds = new CoalescedAdds<string>((items) => {
    batches.push(items);
    return outcome();
  }, batchMax, windowMs);
  return { adds, batches };
}

describe("CoalescedAdds", () => {
  test("adds made in different turns within the window share one call", async () => {
    const { adds, batches } = recording(100, 50);
    const first = adds.add("a");
    await nextTurn();
    const second = adds.add("b");
    await nextTurn();
    assert.deepEqual(batches, [], "nothing is sent before the window ends");
    await Promise.all([first, second]);
    assert.deepEqual(batches, [["a", "b"]]);
  });

  test("a batch that reaches batchMax goes at once; the next one waits for its own window", async () => {
    const { adds, batches } = recording(3, 60_000);
    const full = ["a", "b", "c"].map((item) => adds.add(item));
    assert.deepEqual(batches, [["a", "b", "c"]]);
    await Promise.all(full);
    const rest = adds.add("d");
    assert.equal(batches.length, 1, "the next batch waits");
    await adds.drain();
    await rest;
    assert.deepEqual(batches, [["a", "b", "c"], ["d"]]);
  });

  test("drain sends what waits without waiting for the window, and settles it", async () => {
    const { adds, batches } = recording(100, 60_000);
    const waiting = adds.add("a");
    const started = Date.now();
    await adds.drain();
    await waiting;
    assert.deepEqual(batches, [["a"]]);
    assert.ok(Date.now() - started < 1000, "drained at once");
  });

  test("a failed call rejects every add of its batch with its error", async () => {
    const failure = new Error("Redis said no");
    const { adds } = recording(100, 0, async () => {
      throw failure;
    });
    const outcomes = await Promise.allSettled([adds.add("a"), adds.add("b")]);
    assert.deepEqual(outcomes, [
      { status: "rejected", reason: failure },
      { status: "rejected", reason: failure },
    ]);
  });

  test("a batch size or window that is not a usable number is refused", () => {
    const send = async () => undefined;
    assert.throws(() => new CoalescedAdds(send, 0, 10), /batch size must be a positive integer, got 0/);
    assert.throws(() => new CoalescedAdds(send, 10, -1), /window must be a number of milliseconds, got -1/);
    assert.throws(() => new CoalescedAdds(send, 10, Number.NaN), /window must be a number of milliseconds, got NaN/);
  });
});
