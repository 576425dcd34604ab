import path from "node:path";
import { FileType, type Task } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";

/**
 * Which host paths of the task's work directory are mounted where in its containers.
 *
 * The work directory's `root` stands for the container's filesystem root: the container path /data/x
 * is the host path `${root}/data/x`. Directories that hold task files (volumes, directory inputs and
 * outputs, the parents of output and log files) are mounted whole, so files the executors create
 * there land in `root`; single files are mounted only when no mounted directory holds them already.
 */
export interface Mount {
  containerPath: string;
  hostPath: string;
  kind: "directory" | "file";
}

/** A parent directory this close to the system's own files is never mounted over; the file alone is. */
const systemDirectories = new Set([
  "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
  "/sbin", "/sys", "/usr", "/var",
]);

export class TaskPathError extends Error {
  override readonly name = "TaskPathError";
}

/** `${root}${containerPath}`; like `/..` in a container, a `..` can climb no higher than `root`. */
export function hostPathOf(root: string, containerPath: string): string {
  if (!containerPath.startsWith("/")) throw new TaskPathError(`path "${containerPath}" is not absolute`);
  return path.join(root, path.posix.normalize(containerPath));
}

const wildcard = /[*?[]/;

/** The directory above the first path segment that holds a wildcard: where the matches live. */
export function wildcardBase(containerPath: string): string {
  const segments = containerPath.split("/");
  const first = segments.findIndex((segment) => wildcard.test(segment));
  return first <= 1 ? "/" : segments.slice(0, first).join("/");
}

export function hasWildcard(containerPath: string): boolean {
  return wildcard.test(containerPath);
}

export function planMounts(task: Task, root: string): Mount[] {
  const directories: string[] = [];
  const files: string[] = [];
  const addDirectory = (dir: string, origin: string) => {
    const normalized = path.posix.normalize(dir);
    if (systemDirectories.has(normalized)) {
      throw new TaskPathError(`${origin} "${dir}" would hide the system directory ${normalized}`);
    }
    directories.push(normalized);
  };
  /** A file's parent is mounted unless it is a system directory; then the file alone is. */
  const addFileParent = (file: string) => {
    const parent = path.posix.dirname(path.posix.normalize(file));
    if (systemDirectories.has(parent)) files.push(path.posix.normalize(file));
    else directories.push(parent);
  };

  for (const volume of task.volumes) addDirectory(volume, "volume");
  for (const input of task.inputs) {
    if (input.type === FileType.DIRECTORY) addDirectory(input.path, "input path");
    else files.push(path.posix.normalize(input.path));
  }
  for (const output of task.outputs) {
    if (hasWildcard(output.path)) addDirectory(wildcardBase(output.path), "output path");
    else if (output.type === FileType.DIRECTORY) addDirectory(output.path, "output path");
    else addFileParent(output.path);
  }
  for (const executor of task.executors) {
    // stdin is fed through a pipe by the runner, so it needs no mount of its own.
    for (const file of [executor.stdout, executor.stderr]) if (file !== "") addFileParent(file);
  }

  const under = (child: string, parent: string) =>
    child === parent || child.startsWith(parent === "/" ? "/" : `${parent}/`);
  const keptDirectories: string[] = [];
  for (const dir of [...new Set(directories)].sort()) {
    if (!keptDirectories.some((kept) => under(dir, kept))) keptDirectories.push(dir);
  }
  const keptFiles = [...new Set(files)]
    .sort()
    .filter((file) => !keptDirectories.some((dir) => under(file, dir)));

  return [
    ...keptDirectories.map((dir) => ({ containerPath: dir, hostPath: hostPathOf(root, dir), kind: "directory" as const })),
    ...keptFiles.map((file) => ({ containerPath: file, hostPath: hostPathOf(root, file), kind: "file" as const })),
  ].sort((a, b) => a.containerPath.localeCompare(b.containerPath));
}
