import { opendir } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";

/**
 * POSIX pathname patterns (IEEE 1003.1-2017 §2.13) for TES output paths: `*`, `?` and bracket
 * expressions (with `!` negation and [:classes:]), never across "/", and a leading "." only matched
 * explicitly. No brace, extglob or globstar extensions: `{a,b}` and `**` mean what POSIX says.
 */
const POSIX_OPTIONS: picomatch.PicomatchOptions = {
  nobrace: true,
  noextglob: true,
  noglobstar: true,
  nonegate: true,
  posix: true,
  dot: false,
};

/** True when the path holds an unescaped *, ? or [ (so it is a pattern, not a plain path). */
export function hasWildcards(containerPath: string): boolean {
  for (let i = 0; i < containerPath.length; i++) {
    const c = containerPath[i];
    if (c === "\\") i++;
    else if (c === "*" || c === "?" || c === "[") return true;
  }
  return false;
}

export interface PatternMatch {
  /** Container path of the matching file or directory. */
  containerPath: string;
  hostPath: string;
  isDirectory: boolean;
}

/**
 * Every existing entry under `root` whose container path matches `pattern`, sorted. The walk
 * starts at the pattern's fixed leading directories and goes only as deep as the pattern has
 * segments; symlinked directories are not entered.
 */
export async function expandPattern(root: string, pattern: string): Promise<PatternMatch[]> {
  const isMatch = picomatch(pattern, POSIX_OPTIONS);
  const segments = pattern.split("/").filter(Boolean);
  const firstWild = segments.findIndex((segment) => hasWildcards(segment));
  const fixed = firstWild < 0 ? segments : segments.slice(0, firstWild);
  const depth = segments.length;
  const matches: PatternMatch[] = [];

  const walk = async (containerDir: string, hostDir: string, level: number): Promise<void> => {
    const handle = await opendir(hostDir).catch(() => undefined);
    if (!handle) return;
    for await (const entry of handle) {
      const containerPath = `${containerDir === "/" ? "" : containerDir}/${entry.name}`;
      const hostPath = path.join(hostDir, entry.name);
      if (level + 1 === depth) {
        if (isMatch(containerPath)) {
          matches.push({ containerPath, hostPath, isDirectory: entry.isDirectory() });
        }
      } else if (entry.isDirectory()) {
        await walk(containerPath, hostPath, level + 1);
      }
    }
  };
  const start = `/${fixed.map(unescapePattern).join("/")}`;
  await walk(start, path.join(root, ...fixed.map(unescapePattern)), fixed.length);
  return matches.sort((a, b) => (a.containerPath < b.containerPath ? -1 : a.containerPath > b.containerPath ? 1 : 0));
}

function unescapePattern(segment: string): string {
  return segment.replace(/\\(.)/g, "$1");
}
