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
      if (!cmdline.includes(marker)) continue;
      const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      found.push(`${entry} (state ${state}, parent ${ppid}): ${cmdline}`);
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}
