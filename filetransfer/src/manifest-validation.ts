import { normalizeContainerPath, PathEscapeError } from "./container-path.js";
import type { FileType, Manifest, ManifestInput, ManifestOutput } from "./manifest.js";
import { hasWildcards } from "./output-matching.js";
import { redactUrl } from "./redact.js";

/** A manifest that cannot be run; `problems` names every bad field ("inputs[2].path: ..."). */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid manifest: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

/** Checks a parsed JSON value against the Manifest shape and TES rules; throws ManifestError. */
export function parseManifest(value: unknown): Manifest {
  const problems: string[] = [];
  if (!isObject(value)) throw new ManifestError(["the manifest must be a JSON object"]);
  const { root } = value;
  if (typeof root !== "string" || !root.startsWith("/")) problems.push("root: must be an absolute host directory path");
  const inputs = arrayField(value, "inputs", problems).map((entry, i) => parseInput(entry, `inputs[${i}]`, problems));
  const outputs = arrayField(value, "outputs", problems).map((entry, i) => parseOutput(entry, `outputs[${i}]`, problems));
  if (problems.length > 0) throw new ManifestError(problems);
  return { root: root as string, inputs, outputs };
}

function parseInput(entry: unknown, at: string, problems: string[]): ManifestInput {
  if (!isObject(entry)) {
    problems.push(`${at}: must be an object`);
    return { path: "/" };
  }
  const path = containerPath(entry.path, `${at}.path`, problems);
  const type = fileType(entry.type, `${at}.type`, problems);
  const content = optionalString(entry.content, `${at}.content`, problems);
  const url = optionalString(entry.url, `${at}.url`, problems);
  const name = optionalString(entry.name, `${at}.name`, problems);
  if (entry.streamable !== undefined && typeof entry.streamable !== "boolean") problems.push(`${at}.streamable: must be a boolean`);
  if (content) {
    if (type === "DIRECTORY") problems.push(`${at}: content cannot fill a DIRECTORY input`);
  } else if (!url) {
    problems.push(`${at}: needs a url or a non-empty content`);
  } else {
    checkUrl(url, `${at}.url`, problems);
  }
  if (path === "/" && entry.path === "/") problems.push(`${at}.path: cannot be the container root`);
  return strip({ name, url, path, type, content, streamable: entry.streamable as boolean | undefined });
}

function parseOutput(entry: unknown, at: string, problems: string[]): ManifestOutput {
  if (!isObject(entry)) {
    problems.push(`${at}: must be an object`);
    return { path: "/", url: "" };
  }
  const wildcard = typeof entry.path === "string" && hasWildcards(entry.path);
  const path = wildcard ? patternPath(entry.path as string, `${at}.path`, problems) : containerPath(entry.path, `${at}.path`, problems);
  const url = optionalString(entry.url, `${at}.url`, problems);
  if (!url) problems.push(`${at}.url: is required`);
  else checkUrl(url, `${at}.url`, problems);
  const type = fileType(entry.type, `${at}.type`, problems);
  const name = optionalString(entry.name, `${at}.name`, problems);
  const pathPrefix = optionalString(entry.path_prefix, `${at}.path_prefix`, problems);
  if (wildcard) {
    if (!pathPrefix) problems.push(`${at}.path_prefix: is required when path holds wildcards`);
    else if (!path.startsWith(pathPrefix)) problems.push(`${at}.path_prefix: "${pathPrefix}" is not a prefix of path "${path}"`);
    else if (hasWildcards(pathPrefix)) problems.push(`${at}.path_prefix: must not hold wildcards`);
  }
  return strip({ name, url: url ?? "", path, path_prefix: pathPrefix, type });
}

function containerPath(value: unknown, at: string, problems: string[]): string {
  if (typeof value !== "string" || value.length === 0) {
    problems.push(`${at}: is required and must be a string`);
    return "/";
  }
  try {
    return normalizeContainerPath(value);
  } catch (error) {
    problems.push(`${at}: ${error instanceof PathEscapeError ? error.message : String(error)}`);
    return "/";
  }
}

/** Patterns keep their spelling (normalizing could change what they match), but get the same path rules. */
function patternPath(value: string, at: string, problems: string[]): string {
  containerPath(value, at, problems);
  return value;
}

function fileType(value: unknown, at: string, problems: string[]): FileType | undefined {
  if (value === undefined) return undefined;
  if (value === "FILE" || value === "DIRECTORY") return value;
  problems.push(`${at}: must be "FILE" or "DIRECTORY"`);
  return undefined;
}

function optionalString(value: unknown, at: string, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  problems.push(`${at}: must be a string`);
  return undefined;
}

function checkUrl(url: string, at: string, problems: string[]): void {
  try {
    new URL(url);
  } catch {
    problems.push(`${at}: "${redactUrl(url)}" is not an absolute URL`);
  }
}

function arrayField(value: Record<string, unknown>, key: string, problems: string[]): unknown[] {
  const field = value[key];
  if (field === undefined) return [];
  if (Array.isArray(field)) return field;
  problems.push(`${key}: must be an array`);
  return [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strip<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
