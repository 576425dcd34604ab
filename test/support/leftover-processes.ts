import fs from "node:fs/promises";

/**
 * Processes on this host whose command line contains `marker`, read from /proc: how a test proves
 * that a cancel left nothing behind. Answers "pid: command line" strings.
 */
export async function leftoverProcesses(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await fs.readFile(`/proc/${entry}/cmdline`, "utf8")).replaceAll("\0", " ").trim();
      // A zombie has an empty command line but still exists until reaped; its status says so.
      if (cmdline.includes(marker)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}
