import { errors } from "./errors.js";

/** Size in UTF-8 bytes: what the store, the wire and the node's exec limits pay for. */
export function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, "utf8");
}

/** Fails when `value` exceeds `maxBytes`; answers its size so callers can keep totals. */
export function checkBytes(field: string, value: string, maxBytes: number): number {
  const size = utf8Bytes(value);
  if (size > maxBytes) throw errors.tooLong(field, maxBytes, size);
  return size;
}

export function checkCount(field: string, count: number, max: number): void {
  if (count > max) throw errors.tooMany(field, max, count);
}

/** NUL ends a C string: a path, argument or variable holding one cannot reach exec or the filesystem intact. */
export function checkNoNul(field: string, value: string): void {
  if (value.includes("\0")) throw errors.nulCharacter(field);
}
