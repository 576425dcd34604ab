#!/usr/bin/env node
import { rename, readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { TransferReport } from "./manifest.js";
import { formatProgress } from "./progress-line.js";
import { redactText } from "./redact.js";
import { runTransfers, type TransferDirection } from "./run-transfers.js";
import type { TransferProgress } from "./transfer-progress.js";

const USAGE = `usage: filetransfer download|upload --manifest FILE --report FILE [--parallel N] [--retries N] [--quiet]

  download   fetch the manifest's inputs into place under its root
  upload     send the manifest's outputs from under its root
  --manifest JSON manifest (root, inputs, outputs)
  --report   where to write the JSON report (every file moved, with any error)
  --parallel files moved at once (default 4, or FILETRANSFER_PARALLEL)
  --retries  further attempts per file after a transient failure (default 4, or FILETRANSFER_RETRIES)
  --quiet    no progress line on stderr

Exit status: 0 when every file moved, 1 when any failed (see the report), 2 for bad usage.`;

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        manifest: { type: "string" },
        report: { type: "string" },
        parallel: { type: "string" },
        retries: { type: "string" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const direction = positionals[0];
  if (positionals.length !== 1 || (direction !== "download" && direction !== "upload")) return usage("the first argument must be download or upload");
  if (!values.manifest) return usage("--manifest is required");
  if (!values.report) return usage("--report is required");
  const parallel = parseCount(values.parallel, "--parallel", 1);
  const retries = parseCount(values.retries, "--retries", 0);
  if (typeof parallel === "string") return usage(parallel);
  if (typeof retries === "string") return usage(retries);

  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(values.manifest, "utf8"));
  } catch (error) {
    const report: TransferReport = { ok: false, files: [], errors: [`manifest: cannot read ${values.manifest}: ${(error as Error).message}`] };
    await writeReport(values.report, report);
    process.stderr.write(`filetransfer: ${report.errors[0]}\n`);
    return 1;
  }

  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const line = values.quiet ? undefined : progressWriter();
  const report: TransferReport = await runTransfers(manifest, direction as TransferDirection, {
    ...(parallel === undefined ? {} : { parallel }),
    ...(retries === undefined ? {} : { retries }),
    ...(line ? { onProgress: line.update } : {}),
    signal: controller.signal,
  }).catch((error: unknown) => ({
    // A bug, not a transfer failure; still, the worker gets a report that says the run failed.
    ok: false,
    files: [],
    errors: [`internal error: ${redactText(error instanceof Error ? error.message : String(error))}`],
  }));
  line?.end();
  await writeReport(values.report, report);
  for (const error of report.errors) process.stderr.write(`filetransfer: ${error}\n`);
  for (const file of report.files) {
    if (file.error !== undefined) process.stderr.write(`filetransfer: FAILED ${file.path} ${direction === "download" ? "<-" : "->"} ${file.url || "(content)"}: ${file.error}\n`);
  }
  return report.ok ? 0 : 1;
}

/** On a terminal, one line rewritten in place; otherwise a line every 10 s and one at the end. */
function progressWriter(): { update: (progress: TransferProgress) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let last: TransferProgress | undefined;
  let lastPrinted = 0;
  return {
    update(progress) {
      last = progress;
      const now = Date.now();
      if (tty) process.stderr.write(`\rfiletransfer: ${formatProgress(progress)}\x1b[K`);
      else if (now - lastPrinted >= 10_000) {
        lastPrinted = now;
        process.stderr.write(`filetransfer: ${formatProgress(progress)}\n`);
      }
    },
    end() {
      if (last) process.stderr.write(`${tty ? "\r" : ""}filetransfer: ${formatProgress(last)}${tty ? "\x1b[K" : ""}\n`);
    },
  };
}

function parseCount(value: string | undefined, flag: string, min: number): number | undefined | string {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= min && /^\d+$/.test(value) ? n : `${flag} must be an integer >= ${min}, got "${value}"`;
}

async function writeReport(file: string, report: TransferReport): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(report, null, 2)}\n`);
  await rename(temp, file);
}

function usage(problem: string): number {
  process.stderr.write(`filetransfer: ${problem}\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`filetransfer: internal error: ${redactText(error instanceof Error ? error.message : String(error))}\n`);
    process.exitCode = 1;
  },
);
