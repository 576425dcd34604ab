import { stat } from "node:fs/promises";
import { ContainerRoot, PathEscapeError } from "./container-path.js";
import { listFilesUnder } from "./directory-walk.js";
import type { Manifest } from "./manifest.js";
import { expandPattern, hasWildcards } from "./output-matching.js";
import type { ProviderRegistry } from "./provider-registry.js";
import { ProviderError } from "./provider-error.js";
import type { Redactor } from "./redact.js";
import { withRetries, type RetryOptions } from "./retry.js";
import { childUrl } from "./url-join.js";

/** One file to move, or a manifest entry that already failed while being planned. */
export type TransferJob =
  | { kind: "download"; url: URL; containerPath: string }
  | { kind: "content"; content: string; containerPath: string }
  | { kind: "upload"; url: URL; containerPath: string }
  | { kind: "failed"; url: string; containerPath: string; error: string };

/**
 * Inputs as single files: a DIRECTORY input becomes one job per object its URL lists, with each
 * listed relative path checked to stay under the input's path.
 */
export async function planDownloads(manifest: Manifest, registry: ProviderRegistry, retry: RetryOptions, redactor: Redactor): Promise<TransferJob[]> {
  const jobs: TransferJob[] = [];
  for (const input of manifest.inputs ?? []) {
    if (input.content) {
      jobs.push({ kind: "content", content: input.content, containerPath: input.path });
      continue;
    }
    const url = new URL(input.url as string);
    if (input.type !== "DIRECTORY") {
      jobs.push({ kind: "download", url, containerPath: input.path });
      continue;
    }
    try {
      const provider = registry.resolve(url);
      const listed = await withRetries(async () => {
        const entries: TransferJob[] = [];
        for await (const object of provider.list(url, retry.signal ? { signal: retry.signal } : {})) {
          const relative = object.relativePath;
          if (relative.startsWith("/") || relative.split("/").some((segment) => segment === ".." || segment === "." || segment === "")) {
            throw new ProviderError("invalid", `the listing holds "${relative}", which would leave the input directory`);
          }
          entries.push({ kind: "download", url: object.url, containerPath: `${input.path}/${relative}` });
        }
        return entries;
      }, retry);
      if (listed.length === 0) throw new ProviderError("not-found", `${redactor.url(url)} lists no objects`);
      jobs.push(...listed);
    } catch (error) {
      jobs.push({ kind: "failed", url: input.url as string, containerPath: input.path, error: `listing the directory failed: ${redactor.error(error)}` });
    }
  }
  return jobs;
}

/**
 * Outputs as single files, found after the executors ran: a FILE output must exist (a missing one
 * fails); a DIRECTORY output, or a FILE output that turned out to be a directory, is flattened to
 * its files; a wildcard output uploads each match (and the files of matching directories) to
 * `url` + (match minus path_prefix), and matching nothing is not an error.
 */
export async function planUploads(manifest: Manifest, root: ContainerRoot, redactor: Redactor): Promise<TransferJob[]> {
  const jobs: TransferJob[] = [];
  for (const output of manifest.outputs ?? []) {
    const url = new URL(output.url);
    try {
      if (hasWildcards(output.path)) {
        const prefix = output.path_prefix ?? "";
        for (const match of await expandPattern(root.root, output.path)) {
          const remainder = match.containerPath.slice(prefix.length);
          if (match.isDirectory) jobs.push(...(await directoryJobs(root, match.containerPath, childUrl(url, remainder))));
          else jobs.push({ kind: "upload", url: childUrl(url, remainder), containerPath: match.containerPath });
        }
        continue;
      }
      const hostPath = await root.resolveExisting(output.path);
      if (hostPath === undefined) {
        const what = output.type === "DIRECTORY" ? "directory" : "file";
        jobs.push({ kind: "failed", url: output.url, containerPath: output.path, error: `the output ${what} does not exist` });
        continue;
      }
      const isDirectory = (await stat(hostPath)).isDirectory();
      if (output.type === "DIRECTORY" && !isDirectory) {
        jobs.push({ kind: "failed", url: output.url, containerPath: output.path, error: "the output is a file, but its type is DIRECTORY" });
      } else if (isDirectory) {
        jobs.push(...(await directoryJobs(root, output.path, url)));
      } else {
        jobs.push({ kind: "upload", url, containerPath: output.path });
      }
    } catch (error) {
      const message = error instanceof PathEscapeError ? error.message : `finding the output failed: ${redactor.error(error)}`;
      jobs.push({ kind: "failed", url: output.url, containerPath: output.path, error: message });
    }
  }
  return jobs;
}

async function directoryJobs(root: ContainerRoot, containerPath: string, url: URL): Promise<TransferJob[]> {
  const hostPath = await root.resolveExisting(containerPath);
  if (hostPath === undefined) return [];
  const files = await listFilesUnder(hostPath);
  return files.map((file) => ({ kind: "upload" as const, url: childUrl(url, file.relativePath), containerPath: `${containerPath}/${file.relativePath}` }));
}
