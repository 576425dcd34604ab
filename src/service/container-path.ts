import { errors } from "./errors.js";
import { checkBytes, checkNoNul } from "./text-limits.js";

export interface ContainerPathRules {
  maxPathBytes: number;
  /** "/" makes sense as a working directory, never as a place to put or take files. */
  allowRoot: boolean;
}

/**
 * A path inside the container: absolute, without ".." (so it cannot climb out of the directory
 * the node maps it to) and without NUL. "." segments and repeated slashes are harmless and kept.
 */
export function checkContainerPath(field: string, value: string, rules: ContainerPathRules): void {
  if (value === "") throw errors.fieldRequired(field);
  checkBytes(field, value, rules.maxPathBytes);
  checkNoNul(field, value);
  if (!value.startsWith("/")) throw errors.pathNotAbsolute(field, value);
  const segments = value.split("/");
  if (segments.includes("..")) throw errors.pathHasParentSegment(field, value);
  if (!rules.allowRoot && segments.every((segment) => segment === "" || segment === ".")) {
    throw errors.pathIsRoot(field);
  }
}

/** Whether a path holds POSIX pattern characters (IEEE 1003.1-2017 §2.13): *, ? or a [...] bracket. */
export function hasWildcards(path: string): boolean {
  return /[*?]|\[[^\]]*\]/.test(path);
}

/** The same directory or file written differently ("/a/./b/" and "/a/b") compares equal. */
export function normalizedPath(path: string): string {
  return "/" + path.split("/").filter((segment) => segment !== "" && segment !== ".").join("/");
}
