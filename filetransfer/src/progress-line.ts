import type { TransferProgress } from "./transfer-progress.js";

/** "download 3/10 files, 1.2 GiB, 118 MiB/s, 0 failed": the line people see on stderr. */
export function formatProgress(progress: TransferProgress): string {
  const seconds = Math.max(progress.elapsedInMs / 1000, 0.001);
  const rate = formatBytes(progress.bytesDone / seconds);
  return (
    `${progress.direction} ${progress.filesDone}/${progress.filesTotal} files, ${formatBytes(progress.bytesDone)}, ` +
    `${rate}/s, ${progress.filesFailed} failed, ${seconds.toFixed(1)} s`
  );
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Math.max(bytes, 0);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
