import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

/** A debug-level pino logger whose lines are parsed into `lines`, to assert on what was logged. */
export function captureLogs(lines: Array<Record<string, unknown>>, level = "debug"): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level }, sink);
}
