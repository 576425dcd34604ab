import assert from "node:assert/strict";

/**
 * What moving 1 GiB may add to the resident memory of an idle run: buffers and GC slack, never the
 * file (an eighth of it at most). Not tighter: freed Buffers leave RSS when V8 gets to them, and at
 * 150+ MiB/s that slack alone has reached 95 MiB over a 1 MiB pipeline (SFTP upload, seen in a CI run).
 */
export const TRANSFER_MEMORY_GROWTH_LIMIT = 128 * 1024 * 1024;
/** And the whole process, tsx and all, must stay under this. */
export const TRANSFER_MEMORY_LIMIT = 224 * 1024 * 1024;

export function assertBoundedMemory(baselineBytes: number, peakBytes: number, label: string): void {
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
  assert.ok(baselineBytes > 0 && peakBytes > 0, `${label}: no memory sample was taken`);
  process.stderr.write(`# ${label}: peak RSS ${mib(peakBytes)} (an idle run: ${mib(baselineBytes)})\n`);
  assert.ok(peakBytes - baselineBytes < TRANSFER_MEMORY_GROWTH_LIMIT, `${label}: peak RSS ${mib(peakBytes)} grew more than ${mib(TRANSFER_MEMORY_GROWTH_LIMIT)} over ${mib(baselineBytes)}`);
  assert.ok(peakBytes < TRANSFER_MEMORY_LIMIT, `${label}: peak RSS ${mib(peakBytes)} is over ${mib(TRANSFER_MEMORY_LIMIT)}`);
}
