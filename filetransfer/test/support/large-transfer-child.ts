import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AddressPolicy } from "../../src/address-policy.js";
import { remoteProviders } from "../../src/providers/index-remote.js";
import { patternStream, type LargeTransferResult, type LargeTransferSpec } from "./large-transfer.js";

// Runs one large transfer (spec in LARGE_TRANSFER_SPEC) and prints a LargeTransferResult as JSON.
const spec = JSON.parse(process.env.LARGE_TRANSFER_SPEC ?? "{}") as LargeTransferSpec;
const provider = remoteProviders({ env: spec.env, addressPolicy: new AddressPolicy() }).find((p) => p.schemes.includes(spec.scheme));
if (!provider) throw new Error(`no provider for ${spec.scheme}`);
const url = new URL(spec.url);

const hash = createHash("sha256");
let bytes = 0;
const tap = new Transform({
  transform(chunk: Buffer, _encoding, callback) {
    hash.update(chunk);
    bytes += chunk.length;
    callback(null, chunk);
  },
});

const baseline = process.memoryUsage.rss();
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);
const started = process.hrtime.bigint();
if (spec.mode === "upload") {
  await provider.write(url, patternStream(spec.size).pipe(tap), { size: spec.size });
} else {
  const { body } = await provider.read(url, {});
  await pipeline(body, tap, async function* (source) {
    for await (const _ of source) {
      // Discard: only the digest and the byte count matter.
    }
  });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage.rss());
await provider.close?.();
const result: LargeTransferResult = { sha256: hash.digest("hex"), bytes, peakRssGrowthBytes: peak - baseline, seconds };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
