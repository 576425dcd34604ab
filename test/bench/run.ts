/**
 * `npm run bench [-- --json FILE] [-- --only NAME]`: runs every test/bench/*.bench.ts module (each
 * exports `bench`, returning named figures and ratios), prints one table, and writes every figure
 * to FILE as JSON. BENCH_DURATION_S sets the seconds per measurement (default 5). Exits 1 when a
 * module fails; a ratio under its target is reported, not fatal (the box is shared and noisy).
 */
import { writeFile, readdir } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchFunction, BenchResult } from "./bench-result.js";

const dir = fileURLToPath(new URL(".", import.meta.url));
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
};
const jsonFile = option("--json");
const only = option("--only");
const durationSeconds = Number(process.env.BENCH_DURATION_S ?? "5");
if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) {
  console.error(`BENCH_DURATION_S must be a positive number, got "${process.env.BENCH_DURATION_S}"`);
  process.exit(2);
}

const modules = (await readdir(dir))
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => only === undefined || name.startsWith(only))
  .sort();
const results: Record<string, BenchResult | { error: string }> = {};
let failed = false;
for (const name of modules) {
  const module = (await import(pathToFileURL(`${dir}${name}`).href)) as { bench?: BenchFunction };
  if (typeof module.bench !== "function") {
    results[name] = { error: "exports no bench function" };
    failed = true;
    continue;
  }
  process.stderr.write(`== ${name}\n`);
  try {
    results[name] = await module.bench({ durationSeconds, log: (line) => process.stderr.write(`   ${line}\n`) });
  } catch (error) {
    results[name] = { error: error instanceof Error ? error.message : String(error) };
    failed = true;
  }
}

const rows: string[][] = [["bench", "name", "value", "unit", "target", ""]];
for (const [name, result] of Object.entries(results)) {
  const module = name.replace(/\.bench\.ts$/, "");
  if ("error" in result) {
    rows.push([module, "FAILED", result.error, "", "", ""]);
    continue;
  }
  for (const [figure, { value, unit }] of Object.entries(result.figures)) rows.push([module, figure, String(value), unit, "", ""]);
  for (const [ratio, { value, target }] of Object.entries(result.ratios)) {
    const verdict = target === undefined ? "" : value >= target ? "ok" : "BELOW TARGET";
    rows.push([module, ratio, value.toFixed(3), "ratio", target === undefined ? "" : `>= ${target}`, verdict]);
  }
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());

if (jsonFile !== undefined) {
  const document = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    durationSeconds,
    results,
  };
  await writeFile(jsonFile, `${JSON.stringify(document, null, 2)}\n`);
  console.error(`figures written to ${jsonFile}`);
}
process.exit(failed ? 1 : 0);
