#!/usr/bin/env -S node --import tsx
/**
 * The node-side runner as a command, for hosts that run one attempt per process (Azure Batch nodes,
 * the Batch emulator):
 *
 *   tsx worker/runner/cli.ts run --task task.json --workdir DIR --result result.json
 *       [--runtime bwrap|docker|podman] [--progress progress.json] [--attempt-id ID]
 *       [--tail-bytes N] [--network] [--registry-logins FILE]
 *
 * task.json is the TES task in its JSON form (snake_case, as the REST API answers it). The result is
 * written whatever the outcome (exit code 0); exit code 2 means the command line or task.json was
 * wrong and nothing ran. SIGTERM or SIGINT cancels: the executors are stopped and the result says so.
 * Defaults come from the environment: TES_CONTAINER_RUNTIME, TES_LOCAL_NETWORK, TES_LOCAL_LIMITS,
 * TES_LOG_TAIL_BYTES, TES_REGISTRY_LOGINS (the --registry-logins file).
 *
 * --registry-logins names a registry logins document (registry-login/registry-logins.ts): the
 * runner reads it, deletes it (Batch would serve it to anyone who may read the task's files), and
 * signs its docker/podman client in to those registries before the images are pulled and before
 * each executor (registry-login/).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { containerRuntimeNames, loadLocalBackendConfig, type ContainerRuntimeName } from "../../src/config/local-backend.js";
import { writeFileAtomic } from "./atomic-write.js";
import { toResultDocument } from "./result-document.js";
import { runTask } from "./run-task.js";
import { detectRuntime } from "./runtimes/detect-runtime.js";
import { parseTaskDocument } from "./task-document.js";
import { AZURE_ENDPOINTS } from "./registry-login/acr-token.js";
import { RegistryLogin } from "./registry-login/registry-login.js";
import { parseRegistryLogins, type RegistryLoginEntry } from "./registry-login/registry-logins.js";

const usage =
  "usage: cli.ts run --task task.json --workdir DIR --result result.json [--runtime bwrap|docker|podman] " +
  "[--progress progress.json] [--attempt-id ID] [--tail-bytes N] [--network] [--registry-logins FILE]";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "run") {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        task: { type: "string" },
        workdir: { type: "string" },
        result: { type: "string" },
        runtime: { type: "string" },
        progress: { type: "string" },
        "attempt-id": { type: "string" },
        "tail-bytes": { type: "string" },
        network: { type: "boolean" },
        "registry-logins": { type: "string" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.task === undefined || values.workdir === undefined || values.result === undefined) {
    process.stderr.write(`--task, --workdir and --result are required\n${usage}\n`);
    return 2;
  }
  if (values.runtime !== undefined && !containerRuntimeNames.includes(values.runtime as ContainerRuntimeName)) {
    process.stderr.write(`--runtime must be one of ${containerRuntimeNames.join(", ")}, got "${values.runtime}"\n`);
    return 2;
  }
  const tailBytes = values["tail-bytes"] === undefined ? undefined : Number(values["tail-bytes"]);
  if (tailBytes !== undefined && !(Number.isInteger(tailBytes) && tailBytes >= 0)) {
    process.stderr.write(`--tail-bytes must be a non-negative integer, got "${values["tail-bytes"]}"\n`);
    return 2;
  }

  let config;
  let task;
  try {
    config = loadLocalBackendConfig(process.env);
    task = parseTaskDocument(await fs.readFile(values.task, "utf8"));
  } catch (error) {
    process.stderr.write(`${values.task}: ${(error as Error).message}\n`);
    return 2;
  }
  const loginsFile = values["registry-logins"] ?? nonEmpty(process.env.TES_REGISTRY_LOGINS);
  let logins: RegistryLoginEntry[] = [];
  if (loginsFile !== undefined) {
    try {
      logins = parseRegistryLogins(await fs.readFile(loginsFile, "utf8"));
    } catch (error) {
      // The parser's messages name fields, never a password.
      process.stderr.write(`${loginsFile}: ${(error as Error).message}\n`);
      return 2;
    } finally {
      await fs.rm(loginsFile, { force: true });
    }
  }
  const login = logins.length === 0 ? undefined : await RegistryLogin.create(logins, AZURE_ENDPOINTS);
  const workDir = path.resolve(values.workdir);
  await fs.mkdir(workDir, { recursive: true });

  const abort = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => abort.abort());
  const progressFile = values.progress;
  // Progress documents are written one after another, so the last one on disk is the newest.
  let progressWrites = Promise.resolve();
  const wanted = (values.runtime as ContainerRuntimeName | undefined) ?? config.containerRuntime;
  const result = await runTask(task, {
    workDir,
    attemptId: values["attempt-id"] ?? path.basename(workDir),
    runtime: () =>
      detectRuntime(
        wanted,
        { network: values.network === true || config.network, limits: config.limits, hiddenPaths: [] },
        login?.clientEnv ?? {},
      ),
    // bwrap ignores images (it runs the host's userland): nothing to pull, nothing to sign in to.
    ...(login === undefined ? {} : { signInToRegistries: (runtime, signal) => (runtime.name === "bwrap" ? Promise.resolve() : login.refresh(signal)) }),
    tailBytes: tailBytes ?? config.logTailBytes,
    // TES_ALLOWED_DIRS, when set, says where file:// may go; else filetransfer's own FILETRANSFER_ALLOWED_DIRS.
    ...(config.allowedDirs.length === 0 ? {} : { transfers: { allowedDirs: config.allowedDirs } }),
    signal: abort.signal,
    ...(progressFile === undefined
      ? {}
      : {
          onProgress: (progress) => {
            progressWrites = progressWrites
              .then(() => writeFileAtomic(progressFile, `${JSON.stringify(progress)}\n`))
              .catch(() => undefined);
          },
        }),
  });
  await progressWrites;
  await login?.dispose();
  await writeFileAtomic(values.result, `${JSON.stringify(toResultDocument(result), null, 2)}\n`);
  return 0;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`runner failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
