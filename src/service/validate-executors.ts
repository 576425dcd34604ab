import type { LimitsConfig } from "../config/limits.js";
import type { Executor } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { checkContainerPath } from "./container-path.js";
import { errors, quote } from "./errors.js";
import { checkBytes, checkCount, checkNoNul, utf8Bytes } from "./text-limits.js";

/** Executors: at least one; each with an image and a command whose program is named. */
export function validateExecutors(executors: readonly Executor[], limits: LimitsConfig): void {
  if (executors.length === 0) throw errors.executorsRequired();
  checkCount("executors", executors.length, limits.maxExecutors);
  executors.forEach((executor, index) => validateExecutor(`executors[${index}]`, executor, limits));
}

function validateExecutor(field: string, executor: Executor, limits: LimitsConfig): void {
  if (executor.image === "") throw errors.fieldRequired(`${field}.image`);
  checkBytes(`${field}.image`, executor.image, limits.maxImageBytes);
  if (/[\s\u0000-\u001f\u007f]/.test(executor.image)) throw errors.whitespaceInImage(`${field}.image`);

  validateCommand(`${field}.command`, executor.command, limits);

  const pathRules = { maxPathBytes: limits.maxPathBytes, allowRoot: false };
  if (executor.workdir !== "") {
    checkContainerPath(`${field}.workdir`, executor.workdir, { ...pathRules, allowRoot: true });
  }
  for (const stream of ["stdin", "stdout", "stderr"] as const) {
    if (executor[stream] !== "") checkContainerPath(`${field}.${stream}`, executor[stream], pathRules);
  }

  validateEnv(`${field}.env`, executor.env, limits);
}

function validateCommand(field: string, command: readonly string[], limits: LimitsConfig): void {
  if (command.length === 0) throw errors.fieldRequired(field);
  checkCount(field, command.length, limits.maxCommandArgs);
  if (command[0] === "") throw errors.emptyProgram(`${field}[0]`);
  let total = 0;
  command.forEach((arg, index) => {
    checkNoNul(`${field}[${index}]`, arg);
    total += utf8Bytes(arg);
  });
  if (total > limits.maxCommandBytes) throw errors.totalTooLarge(`${field} arguments`, limits.maxCommandBytes, total);
}

/** Names must be usable by execve ("NAME=value"); values are never echoed, they may be secrets. */
function validateEnv(field: string, env: Readonly<Record<string, string>>, limits: LimitsConfig): void {
  const entries = Object.entries(env);
  checkCount(field, entries.length, limits.maxEnvVars);
  let total = 0;
  for (const [name, value] of entries) {
    if (name === "" || name.includes("=") || name.includes("\0")) throw errors.badEnvName(field, name);
    const entry = `${field}[${quote(name)}]`;
    total += checkBytes(`${entry} name`, name, limits.maxEnvNameBytes);
    total += checkBytes(entry, value, limits.maxEnvValueBytes);
    checkNoNul(entry, value);
  }
  if (total > limits.maxEnvTotalBytes) throw errors.totalTooLarge(`${field} names and values`, limits.maxEnvTotalBytes, total);
}
