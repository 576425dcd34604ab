import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Writes into `dir` a stand-in for the node-side runner, and answers its path: called as the runner
 * is (`... --result R ...`), it writes to R at once a COMPLETE result document of one executor that
 * exited 0. For tests of what the backend asks of Batch, not of containers.
 */
export async function writeCompletingRunner(dir: string): Promise<string> {
  const runner = join(dir, "runner.sh");
  await writeFile(
    runner,
    `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --result) result="$2"; shift 2;; *) shift;; esac; done
printf '%s' '{"version":1,"outcome":"complete","executors":[{"exitCode":0}],"outputs":[],"systemLogs":[]}' > "$result"
`,
  );
  await chmod(runner, 0o755);
  return runner;
}
