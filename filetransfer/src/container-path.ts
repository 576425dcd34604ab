import { lstat, mkdir, realpath } from "node:fs/promises";
import path from "node:path";

/**
 * Maps container paths to host paths under `root` (the container's "/"), and refuses any that
 * would land outside it: a `..` segment, or an existing symlink whose target leaves `root`.
 */
export class PathEscapeError extends Error {
  override readonly name = "PathEscapeError";
}

/** Checks the container path's spelling and returns its normalized POSIX form ("/data/in.txt"). */
export function normalizeContainerPath(containerPath: string): string {
  if (!containerPath.startsWith("/")) throw new PathEscapeError(`path "${containerPath}" is not absolute`);
  if (containerPath.includes("\0")) throw new PathEscapeError(`path "${containerPath}" contains a NUL byte`);
  if (containerPath.split("/").includes("..")) throw new PathEscapeError(`path "${containerPath}" contains a ".." segment`);
  const normalized = path.posix.normalize(containerPath);
  return normalized.length > 1 && normalized.endsWith("/") ? normalized.slice(0, -1) : normalized;
}

/** Host path for a container path, by spelling only; the symlink checks come from the methods below. */
export function hostPathOf(root: string, containerPath: string): string {
  const normalized = normalizeContainerPath(containerPath);
  return normalized === "/" ? path.resolve(root) : path.join(path.resolve(root), ...normalized.slice(1).split("/"));
}

export class ContainerRoot {
  readonly root: string;
  #realRoot: Promise<string> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  realRoot(): Promise<string> {
    this.#realRoot ??= realpath(this.root);
    return this.#realRoot;
  }

  /**
   * A host path to write a file at: the parent directories are created, and none of the existing
   * ones may be a symlink leading out of root. An existing symlink at the file itself is refused.
   */
  async prepareWrite(containerPath: string): Promise<string> {
    const target = hostPathOf(this.root, containerPath);
    await this.#assertExistingAncestorsInside(path.dirname(target), containerPath);
    await mkdir(path.dirname(target), { recursive: true });
    const stats = await lstat(target).catch(() => undefined);
    if (stats?.isSymbolicLink()) throw new PathEscapeError(`path "${containerPath}" is a symlink; refusing to write through it`);
    if (stats?.isDirectory()) throw new PathEscapeError(`path "${containerPath}" is a directory, not a file`);
    return target;
  }

  /** A directory to fill (DIRECTORY inputs): created, and inside root. */
  async prepareDirectory(containerPath: string): Promise<string> {
    const target = hostPathOf(this.root, containerPath);
    await this.#assertExistingAncestorsInside(target, containerPath);
    await mkdir(target, { recursive: true });
    return target;
  }

  /**
   * A host path to read (outputs, after the executors ran and may have planted symlinks): it must
   * exist, and its real path must be inside root. Returns undefined when nothing is there.
   */
  async resolveExisting(containerPath: string): Promise<string | undefined> {
    const target = hostPathOf(this.root, containerPath);
    const real = await realpath(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw error;
    });
    if (real === undefined) {
      const dangling = await lstat(target).catch(() => undefined);
      if (dangling?.isSymbolicLink()) throw new PathEscapeError(`path "${containerPath}" is a symlink to nothing`);
      return undefined;
    }
    await this.#assertInside(real, containerPath);
    return target;
  }

  /** Throws unless the real path of an existing host path is inside root. */
  async assertRealPathInside(hostPath: string, containerPath: string): Promise<void> {
    await this.#assertInside(await realpath(hostPath), containerPath);
  }

  async #assertExistingAncestorsInside(hostPath: string, containerPath: string): Promise<void> {
    let probe = hostPath;
    for (;;) {
      const real = await realpath(probe).catch(() => undefined);
      if (real !== undefined) return this.#assertInside(real, containerPath);
      const parent = path.dirname(probe);
      if (parent === probe) return;
      probe = parent;
    }
  }

  async #assertInside(real: string, containerPath: string): Promise<void> {
    const realRoot = await this.realRoot();
    if (real !== realRoot && !real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep)) {
      throw new PathEscapeError(`path "${containerPath}" leads outside the task directory through a symlink`);
    }
  }
}
