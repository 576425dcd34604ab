import type { LimitsConfig } from "../config/limits.js";
import { FileType, FileTypeSchema, type Input, type Output } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { checkContainerPath, hasWildcards, normalizedPath } from "./container-path.js";
import { errors } from "./errors.js";
import { checkEnumValue } from "./enum-values.js";
import { checkBytes, checkCount, checkNoNul } from "./text-limits.js";

/**
 * Inputs: each placed at an absolute path, from a url or from literal content (content wins). Two
 * inputs at one path must be the same input: Cromwell and Snakemake send a file once per use of it,
 * and it is placed once (the runner skips the repeats).
 */
export function validateInputs(inputs: readonly Input[], limits: LimitsConfig): void {
  checkCount("inputs", inputs.length, limits.maxInputs);
  const seen = new Map<string, { field: string; input: Input }>();
  let totalContent = 0;
  inputs.forEach((input, index) => {
    const field = `inputs[${index}]`;
    validateLabels(field, input, limits);
    checkContainerPath(`${field}.path`, input.path, { maxPathBytes: limits.maxPathBytes, allowRoot: false });
    const key = normalizedPath(input.path);
    const earlier = seen.get(key);
    if (earlier === undefined) seen.set(key, { field: `${field}.path`, input });
    else if (!sameInput(earlier.input, input)) throw errors.duplicateInputPath(`${field}.path`, earlier.field);
    if (input.type !== undefined) checkEnumValue(`${field}.type`, input.type, FileTypeSchema);

    if (input.content !== "") {
      totalContent += checkBytes(`${field}.content`, input.content, limits.maxInputContentBytes);
      if (input.type === FileType.DIRECTORY) throw errors.contentForDirectory(field);
    } else if (input.url === "") {
      throw errors.inputSourceMissing(field);
    }
    if (input.url !== "") validateUrl(`${field}.url`, input.url, limits);
  });
  if (totalContent > limits.maxTotalInputContentBytes) {
    throw errors.totalTooLarge("inputs[*].content", limits.maxTotalInputContentBytes, totalContent);
  }
}

/** The same file from the same source: what may be asked for twice at one path. */
function sameInput(a: Input, b: Input): boolean {
  return a.url === b.url && a.content === b.content && a.type === b.type && a.streamable === b.streamable;
}

/** Outputs: a url and an absolute path; a wildcard path needs a literal path_prefix of it. */
export function validateOutputs(outputs: readonly Output[], limits: LimitsConfig): void {
  checkCount("outputs", outputs.length, limits.maxOutputs);
  outputs.forEach((output, index) => {
    const field = `outputs[${index}]`;
    validateLabels(field, output, limits);
    checkContainerPath(`${field}.path`, output.path, { maxPathBytes: limits.maxPathBytes, allowRoot: false });
    if (output.url === "") throw errors.fieldRequired(`${field}.url`);
    validateUrl(`${field}.url`, output.url, limits);
    if (output.type !== undefined) checkEnumValue(`${field}.type`, output.type, FileTypeSchema);
    if (hasWildcards(output.path)) {
      // The spec ignores path_prefix without wildcards, so it is only checked with them.
      if (output.pathPrefix === "") throw errors.pathPrefixRequired(field);
      checkNoNul(`${field}.path_prefix`, output.pathPrefix);
      if (hasWildcards(output.pathPrefix)) throw errors.pathPrefixHasWildcards(field);
      if (!output.path.startsWith(output.pathPrefix)) throw errors.pathPrefixMismatch(field);
    }
  });
}

/** Volumes: empty shared directories, each at its own absolute path. */
export function validateVolumes(volumes: readonly string[], limits: LimitsConfig): void {
  checkCount("volumes", volumes.length, limits.maxVolumes);
  const seen = new Map<string, string>();
  volumes.forEach((volume, index) => {
    const field = `volumes[${index}]`;
    checkContainerPath(field, volume, { maxPathBytes: limits.maxPathBytes, allowRoot: false });
    const key = normalizedPath(volume);
    const earlier = seen.get(key);
    if (earlier !== undefined) throw errors.duplicatePath(field, earlier);
    seen.set(key, field);
  });
}

function validateLabels(field: string, file: { name: string; description: string }, limits: LimitsConfig): void {
  checkBytes(`${field}.name`, file.name, limits.maxNameBytes);
  checkBytes(`${field}.description`, file.description, limits.maxDescriptionBytes);
}

/** Schemes are the backend's business; here only size and NUL, and the URL is never echoed (SAS). */
function validateUrl(field: string, url: string, limits: LimitsConfig): void {
  checkBytes(field, url, limits.maxUrlBytes);
  checkNoNul(field, url);
}
