import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

/**
 * s3rver (npm) on a loopback port: an S3 REST API server over a directory, written to mimic S3's
 * responses. It checks AWS Signature V4 (and V2) against its one account (key id and secret
 * "S3RVER"), speaks path-style and virtual-host buckets, Range GETs, ListObjectsV2 paging, and
 * multipart uploads (create, upload part, complete, abort), with S3's XML error codes
 * (NoSuchKey, NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch). Objects are files, so a
 * 1 GiB object costs disk, not memory.
 */
export interface S3Server {
  /** Endpoint for S3_ENDPOINT_URL. */
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3Server(options: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = options.bucket ?? "filetransfer-test";
  const directory = mkdtempSync(join(tmpdir(), "ft-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const address = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  return {
    endpoint,
    bucket,
    credentials,
    env: {
      S3_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: "us-east-1",
    },
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
