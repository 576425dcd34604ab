import { pathToFileURL } from "node:url";
import { runTransfers, type Manifest, type TransferOptions, type TransferReport } from "@tes-azure/filetransfer";
import { FileType, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { normalizedPath } from "../../src/service/container-path.js";
import type { OutputFileResult } from "../backends/compute-backend.js";
import { redactUrl, redactUrlsIn } from "./redact-url.js";

/**
 * The task's inputs and outputs handed to filetransfer, unchanged but for three things: a bare
 * absolute path as a URL means that local file (`file://`), the manifest's root is the attempt's
 * container root, and an input repeated at the same path (CreateTask accepts a repeat only when it
 * is the same input) is placed once. Every message that comes back is stripped of URL secrets
 * before it is logged.
 */
export function manifestOf(task: Task, root: string): Manifest {
  const placed = new Set<string>();
  const firstAtItsPath = (input: Task["inputs"][number]): boolean => {
    const key = normalizedPath(input.path);
    if (placed.has(key)) return false;
    placed.add(key);
    return true;
  };
  return {
    root,
    inputs: task.inputs.filter(firstAtItsPath).map((input) => ({
      ...(input.name === "" ? {} : { name: input.name }),
      ...(input.content === "" ? { url: asUrl(input.url) } : { content: input.content }),
      path: input.path,
      // Unset stays unset: filetransfer finds out whether the URL names a file or a directory.
      ...(input.type === undefined ? {} : { type: input.type === FileType.DIRECTORY ? "DIRECTORY" : "FILE" }),
      ...(input.streamable ? { streamable: true } : {}),
    })),
    outputs: task.outputs.map((output) => ({
      ...(output.name === "" ? {} : { name: output.name }),
      url: asUrl(output.url),
      path: output.path,
      ...(output.pathPrefix === "" ? {} : { path_prefix: output.pathPrefix }),
      ...(output.type === undefined ? {} : { type: output.type === FileType.DIRECTORY ? "DIRECTORY" : "FILE" }),
    })),
  };
}

/** A bare absolute path is a local file; anything else is a URL for filetransfer to judge. */
export function asUrl(url: string): string {
  return url.startsWith("/") ? pathToFileURL(url).href : url;
}

interface TransferOutcome {
  ok: boolean;
  systemLogs: string[];
}

export interface DownloadOutcome extends TransferOutcome {
  /** Bytes of the inputs downloaded (content inputs written included), as filetransfer reports them. */
  bytes: bigint;
}

export interface UploadOutcome extends TransferOutcome {
  outputs: OutputFileResult[];
}

/** filetransfer's settings for a run; the signal is the attempt's own. */
export type TaskTransferOptions = Omit<TransferOptions, "signal">;

export async function downloadInputs(
  task: Task,
  root: string,
  options: TaskTransferOptions,
  signal: AbortSignal,
): Promise<DownloadOutcome> {
  if (task.inputs.length === 0) return { ok: true, systemLogs: [], bytes: 0n };
  const report = await transfer(manifestOf(task, root), "download", { ...options, signal });
  const bytes = report.files
    .filter((file) => file.direction === "download" && file.error === undefined)
    .reduce((sum, file) => sum + BigInt(file.size_bytes), 0n);
  return { ok: report.ok, systemLogs: failures(report, "download of input"), bytes };
}

export async function uploadOutputs(
  task: Task,
  root: string,
  options: TaskTransferOptions,
  signal: AbortSignal,
): Promise<UploadOutcome> {
  if (task.outputs.length === 0) return { ok: true, systemLogs: [], outputs: [] };
  const report = await transfer(manifestOf(task, root), "upload", { ...options, signal });
  const outputs = report.files
    .filter((file) => file.direction === "upload" && file.error === undefined)
    .map((file) => ({
      url: redactUrl(file.url, { markQuery: false }),
      path: file.path,
      sizeBytes: BigInt(file.size_bytes),
    }));
  return { ok: report.ok, systemLogs: failures(report, "upload of output"), outputs };
}

async function transfer(
  manifest: Manifest,
  direction: "download" | "upload",
  options: TransferOptions,
): Promise<TransferReport> {
  try {
    return await runTransfers(manifest, direction, options);
  } catch (error) {
    return { ok: false, files: [], errors: [redactUrlsIn((error as Error).message ?? String(error))] };
  }
}

function failures(report: TransferReport, what: string): string[] {
  return [
    ...report.errors.map((error) => `${what}s failed: ${redactUrlsIn(error)}`),
    ...report.files
      .filter((file) => file.error !== undefined)
      .map((file) => `${what} ${file.path} (${redactUrl(file.url)}) failed: ${redactUrlsIn(file.error ?? "")}`),
  ];
}
