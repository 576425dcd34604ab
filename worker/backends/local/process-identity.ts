import { readFileSync } from "node:fs";

/**
 * Names one process on this host across time: its pid, the clock tick it started at and the boot it
 * belongs to, so a reused pid or a reboot is never taken for the worker that owned an attempt.
 */
export interface ProcessIdentity {
  pid: number;
  startTicks: string;
  bootId: string;
}

export function identityOf(pid: number): ProcessIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may hold spaces and parentheses; the fields after the last ")" are plain.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = fields[19];
    // A zombie has ended; only its exit status is left for its parent to collect.
    if (startTicks === undefined || fields[0] === "Z" || fields[0] === "X") return undefined;
    return { pid, startTicks, bootId: bootId() };
  } catch {
    return undefined;
  }
}

export function isAlive(identity: ProcessIdentity): boolean {
  const now = identityOf(identity.pid);
  return now !== undefined && now.startTicks === identity.startTicks && now.bootId === identity.bootId;
}

let cachedBootId: string | undefined;
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}
