import assert from "node:assert/strict";
import { test } from "node:test";
import { validate as isUuid, version as uuidVersion } from "uuid";
import { isPossibleTaskId, newTaskId } from "./task-id.js";

test("task ids are lowercase UUIDv7s whose first 48 bits are the creation time in milliseconds", () => {
  const before = Date.now();
  const id = newTaskId();
  const after = Date.now();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(isUuid(id));
  assert.equal(uuidVersion(id), 7);
  const ms = Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
  assert.ok(ms >= before && ms <= after + 1, `time ${ms} within ${before}..${after}`);
  assert.ok(isPossibleTaskId(id));
});

test("ids made in a tight loop are unique and strictly increasing, within a millisecond too", () => {
  const ids = Array.from({ length: 100_000 }, () => newTaskId());
  assert.equal(new Set(ids).size, ids.length);
  for (let at = 1; at < ids.length; at++) assert.ok(ids[at - 1]! < ids[at]!, `${ids[at - 1]} < ${ids[at]}`);
});

test("the random part differs between ids: no two runs of ids share their tails", () => {
  const tails = new Set(Array.from({ length: 10_000 }, () => newTaskId().slice(24)));
  assert.equal(tails.size, 10_000);
});
