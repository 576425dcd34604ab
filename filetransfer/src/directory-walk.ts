import { opendir, stat } from "node:fs/promises";
import path from "node:path";

export interface WalkedFile {
  /** Host path of the file (or of a symlink to a file). */
  hostPath: string;
  /** Path relative to the walked directory, "/"-separated. */
  relativePath: string;
  isSymlink: boolean;
}

/**
 * Every file under a host directory, sorted by relative path. Symlinked directories are not
 * followed (no loops, no escapes); symlinks to files are returned flagged, for the caller to
 * check their target stays inside the task directory.
 */
export async function listFilesUnder(directory: string): Promise<WalkedFile[]> {
  const files: WalkedFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const handle = await opendir(dir);
    for await (const entry of handle) {
      const hostPath = path.join(dir, entry.name);
      const relativePath = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(hostPath, relativePath);
      else if (entry.isFile()) files.push({ hostPath, relativePath, isSymlink: false });
      else if (entry.isSymbolicLink()) {
        const target = await stat(hostPath).catch(() => undefined);
        if (target === undefined || target.isFile()) files.push({ hostPath, relativePath, isSymlink: true });
      }
    }
  };
  await walk(directory, "");
  return files.sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
}
