import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { patternStream, type LargeTransferResult, type LargeTransferSpec } from "./large-transfer.js";
import { providerFor } from "./provider-for.js";

// Runs one large transfer (spec in LARGE_TRANSFER_SPEC) and prints a LargeTransferResult as JSON.
const spec = JSON.parse(process.env.LARGE_TRANSFER_SPEC ?? "{}") as LargeTransferSpec;
const provider = providerFor(spec.scheme, spec.env);
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

// Load the SDK and open the connection first: the baseline is an idle provider, ready to move bytes.
await provider.stat(url, {});
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
const result: LargeTransferResult = { sha256: hash.digest("hex"), bytes, baselineRssBytes: baseline, peakRssBytes: peak, seconds };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
