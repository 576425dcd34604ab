import assert from "node:assert/strict";

/**
 * What moving 1 GiB may add to the resident memory of an idle run: buffers and GC slack, never the
 * file (a quarter of it at most). Not tighter: what the providers hold is small (SFTP's pipeline is
 * 16 requests of 64 KiB), but the Buffers they drop stay in RSS until V8 and its background threads
 * free them, and how long that takes depends on how busy the machine is. Growth is usually 40 to
 * 65 MiB here; an SFTP upload has grown 95 MiB and once 202 MiB in CI runs on a shared machine, and
 * 135 MiB locally even with a full collection forced every 16 MiB moved.
 */
export const TRANSFER_MEMORY_GROWTH_LIMIT = 256 * 1024 * 1024;
/** And the whole process, tsx and all, must stay under this. */
export const TRANSFER_MEMORY_LIMIT = 384 * 1024 * 1024;

export function assertBoundedMemory(baselineBytes: number, peakBytes: number, label: string): void {
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
  assert.ok(baselineBytes > 0 && peakBytes > 0, `${label}: no memory sample was taken`);
  process.stderr.write(`# ${label}: peak RSS ${mib(peakBytes)} (an idle run: ${mib(baselineBytes)})\n`);
  assert.ok(peakBytes - baselineBytes < TRANSFER_MEMORY_GROWTH_LIMIT, `${label}: peak RSS ${mib(peakBytes)} grew more than ${mib(TRANSFER_MEMORY_GROWTH_LIMIT)} over ${mib(baselineBytes)}`);
  assert.ok(peakBytes < TRANSFER_MEMORY_LIMIT, `${label}: peak RSS ${mib(peakBytes)} is over ${mib(TRANSFER_MEMORY_LIMIT)}`);
}
