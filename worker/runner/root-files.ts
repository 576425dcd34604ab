import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { hostPathOf } from "./task-mounts.js";

/**
 * Opens a task file (an executor's stdin, stdout or stderr) on the host, where the runner runs with
 * more rights than the sandbox. An earlier executor may have planted a symlink at any component of
 * the path, pointing at a host file; so no component may be a symlink, and none is followed.
 * Executors run one at a time, so nothing changes the path between this check and the open.
 */
export class UnsafeTaskPathError extends Error {
  override readonly name = "UnsafeTaskPathError";
}

export async function openTaskFileForWriting(root: string, containerPath: string): Promise<fs.FileHandle> {
  const host = await walk(root, containerPath, true);
  return fs.open(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
}

export async function openTaskFileForReading(root: string, containerPath: string): Promise<fs.FileHandle> {
  const host = await walk(root, containerPath, false);
  return fs.open(host, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** The host path, after checking (and, to write, creating) every directory on the way. */
async function walk(root: string, containerPath: string, create: boolean): Promise<string> {
  const host = hostPathOf(root, containerPath);
  const relative = path.relative(root, host).split(path.sep).filter(Boolean);
  let current = root;
  for (const [index, segment] of relative.entries()) {
    current = path.join(current, segment);
    const stat = await fs.lstat(current).catch(() => undefined);
    if (stat?.isSymbolicLink()) {
      throw new UnsafeTaskPathError(`${containerPath} goes through a symlink (${segment}); refusing to follow it`);
    }
    const last = index === relative.length - 1;
    if (stat === undefined && !last) {
      if (!create) throw new UnsafeTaskPathError(`${containerPath} does not exist in the task's files`);
      await fs.mkdir(current);
    } else if (stat !== undefined && !last && !stat.isDirectory()) {
      throw new UnsafeTaskPathError(`${containerPath}: ${segment} is not a directory`);
    }
  }
  return host;
}
