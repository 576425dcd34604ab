import { randomFillSync } from "node:crypto";

/** Random bytes are drawn from the CSPRNG this many at a time: one call per 256 ids instead of one per id. */
const RANDOM_POOL_BYTES = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
let randomAt = RANDOM_POOL_BYTES;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
/** The millisecond of the last id, and its 31-bit sequence (RFC 9562 6.2 method 1: a counter seeded at random each millisecond). */
let lastMs = -Infinity;
let sequence = 0;

/**
 * A new task id: a UUIDv7, lowercase. Its leading 48 bits are the creation time in milliseconds,
 * and ids made in the same millisecond count up from a random start, so ids sort by creation even
 * within a millisecond; it holds no "/" or ":", which the REST paths (/tasks/{id}:cancel) need.
 * The same layout as the uuid package's v7, at a fraction of its cost (it asks the CSPRNG for 16
 * bytes per id).
 */
export function newTaskId(): string {
  if (randomAt + 16 > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const r = randomAt;
  randomAt += 16;
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = ((randomPool[r]! & 0x7f) << 24) | (randomPool[r + 1]! << 16) | (randomPool[r + 2]! << 8) | randomPool[r + 3]!;
  } else if (sequence === 0x7fffffff) {
    // 2^31 ids in one millisecond (or a clock that went back): borrow the next millisecond.
    lastMs += 1;
    sequence = 0;
  } else {
    sequence += 1;
  }
  const ms = lastMs;
  const high = Math.floor(ms / 0x100000000);
  const low = ms >>> 0;
  return (
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[low >>> 24]! +
    HEX[(low >>> 16) & 0xff]! +
    "-" +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    "-" +
    HEX[0x70 | ((sequence >>> 28) & 0x0f)]! +
    HEX[(sequence >>> 20) & 0xff]! +
    "-" +
    HEX[0x80 | ((sequence >>> 14) & 0x3f)]! +
    HEX[(sequence >>> 6) & 0xff]! +
    "-" +
    HEX[((sequence << 2) & 0xfc) | (randomPool[r + 4]! & 0x03)]! +
    HEX[randomPool[r + 5]!]! +
    HEX[randomPool[r + 6]!]! +
    HEX[randomPool[r + 7]!]! +
    HEX[randomPool[r + 8]!]! +
    HEX[randomPool[r + 9]!]!
  );
}

/** Longer than any id this service issues, with margin for ids imported from elsewhere. */
export const MAX_TASK_ID_LENGTH = 128;

/** Whether `id` could name a task; anything else cannot exist, so the store is not asked. */
export function isPossibleTaskId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_TASK_ID_LENGTH && !/[/:\0]/.test(id);
}
