import type { AttemptResult, ExecutorResult } from "../backends/compute-backend.js";

/**
 * The result document the runner writes when an attempt ends (result.json), and that a backend
 * reads back: the AttemptResult, with sizes as decimal strings because JSON has no int64.
 * Written atomically (a temporary file renamed), so a reader sees all of it or nothing.
 * `inputBytes` was added later, optionally: a version 1 document without it still reads.
 */
export interface ResultDocument {
  version: 1;
  outcome: AttemptResult["outcome"];
  startTime?: string;
  endTime?: string;
  executors: ExecutorResult[];
  outputs: { url: string; path: string; sizeBytes: string }[];
  /** Decimal string, like sizeBytes. */
  inputBytes?: string;
  systemLogs: string[];
  metadata?: Record<string, string>;
}

export function toResultDocument(result: AttemptResult): ResultDocument {
  const { inputBytes, ...rest } = result;
  return {
    version: 1,
    ...rest,
    outputs: result.outputs.map((output) => ({ ...output, sizeBytes: output.sizeBytes.toString() })),
    ...(inputBytes === undefined ? {} : { inputBytes: inputBytes.toString() }),
  };
}

const outcomes = new Set(["complete", "executor_error", "system_error", "canceled"]);

/** Reads a result document back, refusing anything that is not one (a clear message, no guessing). */
export function parseResultDocument(text: string): AttemptResult {
  const doc = JSON.parse(text) as Partial<ResultDocument>;
  if (doc === null || typeof doc !== "object" || doc.version !== 1 || !outcomes.has(doc.outcome ?? "")) {
    throw new Error("not a version 1 result document");
  }
  if (!Array.isArray(doc.executors) || !Array.isArray(doc.outputs) || !Array.isArray(doc.systemLogs)) {
    throw new Error("result document lacks executors, outputs or systemLogs");
  }
  const result: AttemptResult = {
    outcome: doc.outcome as AttemptResult["outcome"],
    executors: doc.executors.map((executor) => {
      if (typeof executor?.exitCode !== "number") throw new Error("result document has an executor without exitCode");
      return executor;
    }),
    outputs: doc.outputs.map((output) => ({ url: output.url, path: output.path, sizeBytes: BigInt(output.sizeBytes) })),
    systemLogs: doc.systemLogs.map(String),
  };
  if (doc.startTime !== undefined) result.startTime = doc.startTime;
  if (doc.endTime !== undefined) result.endTime = doc.endTime;
  if (doc.metadata !== undefined) result.metadata = doc.metadata;
  if (doc.inputBytes !== undefined) {
    if (typeof doc.inputBytes !== "string" || !/^\d+$/.test(doc.inputBytes)) {
      throw new Error("result document has an inputBytes that is not a decimal string of a non-negative integer");
    }
    result.inputBytes = BigInt(doc.inputBytes);
  }
  return result;
}
