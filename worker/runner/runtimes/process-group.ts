import type { ChildProcess } from "node:child_process";

/**
 * SIGKILLs a detached child's whole process group and waits (up to `timeoutInMs`) for the child to
 * exit. Processes that left the group (a new session) are the runtime's to stop: bwrap's die-with-
 * parent and PID namespace take them down with it, an engine stops its container by name.
 */
export async function killProcessGroup(child: ChildProcess, timeoutInMs = 1500): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, timeoutInMs).unref())]);
}
