import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** A fresh directory under the OS temp dir; `remove()` deletes it and everything in it. */
export async function makeTempDir(label: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `filetransfer-${label}-`));
  return { path: dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
