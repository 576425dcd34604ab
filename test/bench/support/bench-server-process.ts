/**
 * The server side of a bench server process (startBenchServer in paired-runs.ts starts one): says
 * it is ready with one JSON line {port, taskId} on stdout, then serves until SIGTERM or until stdin
 * closes (the bench has gone), when it runs `stop` once and exits.
 */
export function serveUntilStopped(ready: { port: number; taskId: string }, stop: () => Promise<void>): void {
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  let stopping = false;
  const stopOnce = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stopOnce());
  process.stdin.on("end", () => void stopOnce());
  process.stdin.resume();
}
