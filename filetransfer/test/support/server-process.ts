import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Starting and stopping the real servers the tests run (sshd, vsftpd, Azurite). They take a port number
 * rather than 0, so we ask the kernel for a free one and retry if another process took it first.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** Spawns `command` with a fresh port until it accepts connections (up to `attempts` ports). */
export async function startOnFreePort(
  command: string,
  args: (port: number) => string[],
  options: { attempts?: number; readyTimeoutInMs?: number; beforeStart?: (port: number) => void } = {},
): Promise<ServerProcess> {
  let lastOutput = "";
  for (let attempt = 0; attempt < (options.attempts ?? 3); attempt++) {
    const port = await freePort();
    options.beforeStart?.(port);
    const child = spawn(command, args(port), { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    const ready = await waitForPort(port, options.readyTimeoutInMs ?? 10_000, child, spawnError);
    if (ready === true) return { child, port, output: () => output };
    lastOutput = `${output}${ready instanceof Error ? ready.message : ""}`;
    await stopProcess(child);
  }
  throw new Error(`${command} did not start: ${lastOutput.trim() || "no output"}`);
}

async function waitForPort(port: number, timeoutInMs: number, child: ChildProcess, spawnError: Promise<Error>): Promise<true | false | Error> {
  const deadline = Date.now() + timeoutInMs;
  let failure: Error | undefined;
  void spawnError.then((error) => (failure = error));
  while (Date.now() < deadline) {
    if (failure) return failure;
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (connected) return true;
    await sleep(50);
  }
  return false;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** Pids of every descendant of `pid` (the per-connection processes a forking server starts). */
export function descendantPids(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (ppid) follows the command name in parentheses, which may itself hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // The process ended while we looked.
    }
  }
  const result: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop() as number;
    for (const child of children.get(next) ?? []) {
      result.push(child);
      pending.push(child);
    }
  }
  return result;
}

/** Ends every connection a forking server is serving, as a network failure would, leaving the listener up. */
export function killSessions(serverPid: number): number {
  const pids = descendantPids(serverPid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids.length;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} must run as root (it starts a system daemon on a loopback port)`);
}
