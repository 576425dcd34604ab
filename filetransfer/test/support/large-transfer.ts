import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

/**
 * Moving a large generated object through a provider in a child process, measuring the child's
 * peak RSS above what it used just before the transfer: the test that memory stays bounded
 * whatever the object's size. The data is a deterministic pattern (a 1 MiB pseudo-random block,
 * each 256 KiB chunk stamped with its index), so order and content errors change the digest.
 */
export interface LargeTransferSpec {
  scheme: string;
  env: Record<string, string>;
  url: string;
  mode: "upload" | "download";
  size: number;
}

export interface LargeTransferResult {
  sha256: string;
  bytes: number;
  peakRssGrowthBytes: number;
  seconds: number;
}

const CHUNK = 256 * 1024;

export function patternStream(size: number): Readable {
  let block = createHash("sha256").update("filetransfer large transfer").digest();
  const base = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < base.length; at += block.length) {
    block = createHash("sha256").update(block).digest();
    block.copy(base, at);
  }
  let offset = 0;
  let index = 0n;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, size - offset);
      const chunk = Buffer.allocUnsafe(length);
      base.copy(chunk, 0, offset % base.length, (offset % base.length) + length);
      if (length >= 8) chunk.writeBigUInt64BE(index, 0);
      index += 1n;
      offset += length;
      this.push(chunk);
    },
  });
}

/** The SHA-256 of patternStream(size), computed without keeping the data. */
export async function patternSha256(size: number): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of patternStream(size)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const CHILD = fileURLToPath(new URL("./large-transfer-child.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export async function runLargeTransfer(spec: LargeTransferSpec): Promise<LargeTransferResult> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    cwd: REPO_ROOT,
    env: { ...process.env, LARGE_TRANSFER_SPEC: JSON.stringify(spec) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`large ${spec.mode} of ${spec.url} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`);
  return JSON.parse(stdout.trim().split("\n").pop() as string) as LargeTransferResult;
}
