import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startBatchEmulator } from "./batch-emulator.js";

/**
 * Runs the Batch emulator by hand:
 *   npx tsx test/emulators/batch/cli.ts --port 8090 [--account NAME] [--key BASE64] [--root DIR]
 *     [--dedicated-cores N] [--low-priority-cores N] [--pools N] [--active-jobs N] [--arm]
 * It prints the URL, account and key to use with BatchSharedKeyCredentials, and serves the
 * /_emulator/ control endpoints (control-api.ts) on the same port. With --arm it also serves the
 * ARM pool resource (arm-endpoint.ts) and prints its URL, subscription, resource group and the
 * file holding its certificate (the client's CA). Ctrl-C stops it.
 */
const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    account: { type: "string" },
    key: { type: "string" },
    root: { type: "string" },
    "dedicated-cores": { type: "string" },
    "low-priority-cores": { type: "string" },
    pools: { type: "string" },
    "active-jobs": { type: "string" },
    arm: { type: "boolean", default: false },
  },
});

function count(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

const quotas = Object.fromEntries(
  (
    [
      ["dedicatedCores", count("dedicated-cores", values["dedicated-cores"])],
      ["lowPriorityCores", count("low-priority-cores", values["low-priority-cores"])],
      ["pools", count("pools", values.pools)],
      ["activeJobs", count("active-jobs", values["active-jobs"])],
    ] as const
  ).filter(([, v]) => v !== undefined),
);

const emulator = await startBatchEmulator({
  host: values.host,
  port: count("port", values.port) ?? 0,
  controlApi: true,
  quotas,
  ...(values.account === undefined ? {} : { accountName: values.account }),
  ...(values.key === undefined ? {} : { accountKey: values.key }),
  ...(values.root === undefined ? {} : { rootDir: values.root }),
  arm: values.arm === true,
});
let caFile: string | undefined;
if (emulator.arm !== undefined) {
  caFile = join(tmpdir(), `batch-emulator-arm-${process.pid}.pem`);
  writeFileSync(caFile, emulator.arm.ca);
  process.stdout.write(`arm:     ${emulator.arm.url} subscription ${emulator.arm.subscriptionId} resource group ${emulator.arm.resourceGroup}\narm ca:  ${caFile}\n`);
}
process.stdout.write(`Batch emulator listening at ${emulator.url}\naccount: ${emulator.accountName}\nkey:     ${emulator.accountKey}\ncontrol: ${emulator.url}/_emulator/counts\n`);
const stop = () => {
  if (caFile !== undefined) rmSync(caFile, { force: true });
  void emulator.stop().then(() => process.exit(0));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
