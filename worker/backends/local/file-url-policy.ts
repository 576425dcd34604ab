import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";

/**
 * Local files a task may read or write: only under the directories in TES_ALLOWED_DIRS. A `file://`
 * URL or a bare absolute path elsewhere (or one whose symlinks lead elsewhere) is refused; with no
 * allowed directory, every local file is. Answers one message per refused URL, naming the field,
 * for the API's 400 and for the backend's own check at submit. An empty answer means allowed.
 */
export async function findDisallowedFileUrls(task: Task, allowedDirs: readonly string[]): Promise<string[]> {
  const fields = [
    ...task.inputs.flatMap((input, index) => (input.content === "" ? [{ field: `inputs[${index}].url`, url: input.url }] : [])),
    ...task.outputs.map((output, index) => ({ field: `outputs[${index}].url`, url: output.url })),
  ];
  const allowed = await Promise.all(allowedDirs.map((dir) => realpathOfNearest(path.resolve(dir))));
  const problems: string[] = [];
  for (const { field, url } of fields) {
    const local = localPathOf(url);
    if (local === undefined) continue;
    if ("error" in local) {
      problems.push(`${field}: ${local.error}`);
      continue;
    }
    const where = allowedDirs.length === 0 ? "no directory is allowed (TES_ALLOWED_DIRS is empty)" : `allowed: ${allowedDirs.join(", ")}`;
    const lexical = path.resolve(local.path);
    const real = await realpathOfNearest(lexical);
    const inside = (candidate: string) => allowed.some((dir) => candidate === dir || candidate.startsWith(dir === "/" ? "/" : `${dir}/`));
    if (!inside(real) || !allowedDirs.some((dir) => lexical === path.resolve(dir) || lexical.startsWith(`${path.resolve(dir)}/`))) {
      problems.push(`${field}: the local path ${lexical} is outside the directories this server may use (${where})`);
    }
  }
  return problems;
}

/** The host path a URL names, undefined for other schemes, or why it is not a usable file URL. */
function localPathOf(url: string): { path: string } | { error: string } | undefined {
  if (url.startsWith("/")) return { path: url };
  if (!/^file:/i.test(url)) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.hostname !== "" && parsed.hostname !== "localhost") {
      return { error: `file URLs must name this host (file:///path), not "${parsed.hostname}"` };
    }
    return { path: fileURLToPath(parsed) };
  } catch {
    return { error: "not a valid file URL" };
  }
}

/** The real path of `target`, or of its nearest existing ancestor joined with the rest. */
async function realpathOfNearest(target: string): Promise<string> {
  let existing = target;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await fs.realpath(existing), ...rest.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return target;
      rest.push(path.basename(existing));
      existing = parent;
    }
  }
}
