import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { Env } from "../config/env-reader.js";
import { EnvReader } from "../config/env-reader.js";
import { createSecretScrubber } from "./secret-scrubber.js";

/** Fields whose value is a credential, at the top level or one level down. */
const SECRET_FIELDS = ["authorization", "password", "accountKey", "connectionString", "token", "clientSecret", "secret"];

export interface LoggerOptions {
  /** Where lines go; stdout by default. */
  readonly destination?: NodeJS.WritableStream;
  /** Whether that destination is a terminal (pretty by default when it is). Default: process.stdout.isTTY. */
  readonly isTty?: boolean;
}

/**
 * Structured JSON logs on stdout, one object a line (LOG_FORMAT=json, the default when stdout is
 * not a terminal), or human-readable lines (LOG_FORMAT=pretty, the default on a terminal).
 * Anything that could carry a credential is removed twice: by path before a line is serialized,
 * and by shape and by value from the serialized line (secret-scrubber.ts), whatever field holds it.
 */
export function createLogger(env: Env, options: LoggerOptions = {}): Logger {
  const settings = new EnvReader(env);
  const level = settings.oneOf("LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info");
  const isTty = options.isTty ?? process.stdout.isTTY === true;
  const format = settings.oneOf("LOG_FORMAT", ["json", "pretty"], isTty ? "pretty" : "json");
  const scrub = createSecretScrubber(env);
  const destination = options.destination ?? process.stdout;
  const stream: DestinationStream =
    format === "pretty"
      ? pretty({ destination, sync: true, colorize: isTty, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" })
      : (destination as DestinationStream);
  return pino(
    {
      name: "tes",
      level,
      redact: {
        paths: [
          ...SECRET_FIELDS,
          ...SECRET_FIELDS.map((field) => `*.${field}`),
          "*.Authorization",
          "headers.authorization",
          "req.headers.authorization",
        ],
        censor: "[redacted]",
      },
      hooks: { streamWrite: scrub },
    },
    stream,
  );
}
