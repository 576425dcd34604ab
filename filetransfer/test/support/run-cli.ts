import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Manifest, TransferReport } from "../../src/manifest.js";

const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  report: TransferReport | undefined;
  /** Peak resident memory of the CLI process (VmHWM from /proc), in bytes. */
  peakRssBytes: number;
}

/**
 * Runs the filetransfer CLI as its own process (node + tsx, as a user would with the sources),
 * with a manifest written to `workDir`, and reads back its report and its peak memory.
 */
export async function runCli(
  direction: "download" | "upload",
  manifest: Manifest,
  workDir: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const manifestFile = path.join(workDir, `manifest-${direction}-${Date.now()}.json`);
  const reportFile = path.join(workDir, `report-${direction}-${Date.now()}.json`);
  await writeFile(manifestFile, JSON.stringify(manifest));
  const child = spawn(process.execPath, ["--import", "tsx", CLI, direction, "--manifest", manifestFile, "--report", reportFile, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let peakRssBytes = 0;
  const sample = async (): Promise<void> => {
    const status = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    if (kb !== undefined) peakRssBytes = Math.max(peakRssBytes, Number(kb) * 1024);
  };
  const sampler = setInterval(() => void sample(), 25);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  clearInterval(sampler);
  const report = await readFile(reportFile, "utf8").then((text) => JSON.parse(text) as TransferReport, () => undefined);
  return { code, stdout, stderr, report, peakRssBytes };
}
