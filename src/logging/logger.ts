import { pino, type Logger } from "pino";
import type { Env } from "../config/env-reader.js";
import { EnvReader } from "../config/env-reader.js";

/**
 * Structured JSON logs on stdout, one object a line. Anything that could carry a credential is
 * redacted by path before it is written, whatever part of the server logs it.
 */
export function createLogger(env: Env): Logger {
  const settings = new EnvReader(env);
  return pino({
    name: "tes",
    level: settings.oneOf("LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
    redact: {
      paths: [
        "*.authorization",
        "*.Authorization",
        "headers.authorization",
        "req.headers.authorization",
        "*.password",
        "*.accountKey",
        "*.connectionString",
        "*.token",
      ],
      censor: "[redacted]",
    },
  });
}
