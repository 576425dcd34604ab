import type { BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";

/**
 * How a Batch node is made ready for TES tasks (the production shape, shared/DESIGN.md "Azure Batch
 * mapping"): the pool is container-enabled on a marketplace image with Docker
 * (microsoft-dsvm/ubuntu-hpc/2204 by default), Batch pulls the runner image (runner + filetransfer,
 * AZURE_BATCH_RUNNER_IMAGE) as each node starts, logging in to the pool's registries itself, and
 * this start task checks, before the node takes any task, that Docker answers and the runner image
 * is there. A node where either is missing ends `startTaskFailed` with one line on the start task's
 * stderr saying which, instead of failing every task it would be given.
 *
 * We pull an image rather than install Node and the runner on the node: the image is the same
 * artefact the server ships (one build, one version), Batch already pulls and caches images with the
 * registry credentials it holds, and nothing is downloaded from the internet at node start.
 */
export function startTaskFor(config: AzureBatchConfig): BatchServiceModels.StartTask | undefined {
  const admin: BatchServiceModels.UserIdentity = { autoUser: { scope: "pool", elevationLevel: "admin" } };
  if (config.startTaskCommandLine !== undefined) {
    return { commandLine: config.startTaskCommandLine, waitForSuccess: true, maxTaskRetryCount: 1, userIdentity: admin };
  }
  if (config.runnerImage === undefined) return undefined;
  return { commandLine: `/bin/sh -c ${shellQuote(startScript(config.runnerImage))}`, waitForSuccess: true, maxTaskRetryCount: 1, userIdentity: admin };
}

/** The start task's script: POSIX sh, each failure one line naming what is missing. */
export function startScript(runnerImage: string): string {
  const image = shellQuote(runnerImage);
  return [
    "set -u",
    `command -v docker >/dev/null 2>&1 || { echo "tes: no docker client on this node; use a container-enabled image (AZURE_BATCH_IMAGE)" >&2; exit 10; }`,
    `docker version --format "{{.Server.Version}}" >/dev/null 2>&1 || { echo "tes: the Docker engine on this node does not answer" >&2; exit 11; }`,
    `docker image inspect ${image} >/dev/null 2>&1 || { echo "tes: the runner image "${image}" was not pulled; check AZURE_BATCH_RUNNER_IMAGE and the pool's registries" >&2; exit 12; }`,
    `echo "tes: node ready: docker $(docker version --format "{{.Server.Version}}"), runner image "${image}`,
  ].join("\n");
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}
