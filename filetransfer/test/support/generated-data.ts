import { createHash } from "node:crypto";
import { Readable } from "node:stream";

/**
 * Large test payloads without large files: a 1 MiB block of seeded pseudo-random bytes, repeated
 * and offset so no two blocks are equal. The same (size, seed) always gives the same bytes.
 */
const BLOCK = 1024 * 1024;

const BASE_BLOCKS = 16;
const baseCache = new Map<string, Buffer>();

function baseBlock(seed: number, index: number): Buffer {
  const key = `${seed}:${index}`;
  let base = baseCache.get(key);
  if (!base) {
    base = block(seed, index);
    baseCache.set(key, base);
  }
  return base;
}

function block(seed: number, index: number): Buffer {
  const buffer = Buffer.allocUnsafe(BLOCK);
  let x = (seed * 2654435761 + index * 40503 + 1) >>> 0;
  for (let i = 0; i < BLOCK; i += 4) {
    // xorshift32: fast, deterministic, and not compressible into a sparse file by accident.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buffer.writeUInt32LE(x, i);
  }
  return buffer;
}

/** The bytes of generated data from `start` to the end, as a stream. */
export function generatedStream(size: number, seed = 1, start = 0): Readable {
  let position = start;
  const cache = new Map<number, Buffer>();
  return new Readable({
    highWaterMark: BLOCK,
    read() {
      if (position >= size) {
        this.push(null);
        return;
      }
      const index = Math.floor(position / BLOCK);
      let data = cache.get(index);
      if (!data) {
        cache.clear();
        data = Buffer.from(baseBlock(seed, index % BASE_BLOCKS));
        data.writeUInt32LE(index, 0);
        cache.set(index, data);
      }
      const from = position - index * BLOCK;
      const to = Math.min(BLOCK, size - index * BLOCK);
      this.push(data.subarray(from, to));
      position += to - from;
    },
  });
}

export async function generatedMd5(size: number, seed = 1): Promise<Buffer> {
  const hash = createHash("md5");
  for await (const chunk of generatedStream(size, seed)) hash.update(chunk as Buffer);
  return hash.digest();
}

export async function generatedBuffer(size: number, seed = 1): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of generatedStream(size, seed)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** MD5 of a file or stream, to compare a transfer's result with its source. */
export async function md5Of(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const hash = createHash("md5");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest();
}
