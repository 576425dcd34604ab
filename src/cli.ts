import { parseArgs } from "node:util";
import { startApp, type AppRoles } from "./app.js";
import { ConfigError } from "./config/env-reader.js";
import { KeysUnavailableError } from "./auth/issuer-keys.js";
import { createLogger } from "./logging/logger.js";
import { RedisUnavailableError } from "./redis/resolve-redis.js";
import { resolveSecretReferences, SecretResolutionError, type ResolvedSecrets } from "./secrets/resolve-secret-references.js";

const USAGE = `Usage: tes <command>

Commands:
  serve    the API and one worker in one process (the embedded default; what \`npm start\` runs)
  server   the API only (production: run as many replicas as the load needs)
  worker   the worker pool only (production: as many replicas as wanted, on any machines)

Every setting is an environment variable: see docs/CONFIGURATION.md.`;

const ROLES: Readonly<Record<string, AppRoles>> = {
  serve: { api: true, worker: true },
  server: { api: true, worker: false },
  worker: { api: false, worker: true },
};

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { help: { type: "boolean", short: "h" } } });
  const command = positionals[0] ?? "serve";
  const roles = ROLES[command];
  if (values.help || roles === undefined || positionals.length > 1) {
    (roles === undefined && !values.help ? console.error : console.log)(USAGE);
    return values.help ? 0 : 2;
  }

  const logger = createLogger(process.env);
  let app;
  let secrets: ResolvedSecrets | undefined;
  try {
    // Key Vault references become values here, in a copy: child processes never inherit them.
    secrets = await resolveSecretReferences(process.env, { logger });
    app = await startApp(secrets.env, roles, logger);
  } catch (error) {
    secrets?.stop();
    if (
      error instanceof ConfigError ||
      error instanceof RedisUnavailableError ||
      error instanceof SecretResolutionError ||
      error instanceof KeysUnavailableError
    ) {
      // A setting or a missing service: one sentence saying what to do, no stack.
      console.error(`tes: ${error.message}`);
      return 1;
    }
    throw error;
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await app.close();
  secrets.stop();
  logger.info("stopped");
  return 0;
}

process.exitCode = await main();
