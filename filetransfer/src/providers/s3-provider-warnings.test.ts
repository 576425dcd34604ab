import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../../test/support/run-cli.js";
import { startS3Server, type S3Server } from "../../test/support/s3-server.js";
import { makeTempDir } from "../../test/support/temp-dir.js";

/**
 * The AWS SDK v3 warns once per process on stderr that its releases after January 2027 need Node 22
 * (aws/aws-sdk-js-v3#7983); the S3 provider builds its client without it (s3-provider.ts). These
 * run real processes and read their stderr, where a user would see the warning.
 */
const SDK_WARNING = /NodeVersionSupportWarning|The AWS SDK for JavaScript \(v3\)/;
const SWITCH = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";
const PROVIDER = fileURLToPath(new URL("./s3-provider.ts", import.meta.url));

/** The test runner's environment without the SDK's switch, so each case sets it or not itself. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const { [SWITCH]: _switch, ...env } = process.env as Record<string, string>;
  return { ...env, ...extra };
}

/** Runs an ES module snippet in a fresh node (with tsx, so it can import the provider's source). */
function runSnippet(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", env });
}

describe("the AWS SDK's Node version warning", () => {
  let server: S3Server;
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    server = await startS3Server();
    work = await makeTempDir("s3-warning");
  });
  after(async () => {
    await server?.stop();
    await work?.remove();
  });

  it("is what the SDK prints on this Node when a client is built plainly (so its absence below means something)", () => {
    const run = runSnippet(`import { S3Client } from "@aws-sdk/client-s3"; new S3Client({ region: "us-east-1" });`, cleanEnv());
    assert.equal(run.status, 0, run.stderr);
    // The SDK warns below Node 22; the project runs Node 20.
    const belowNode22 = Number(process.versions.node.split(".")[0]) < 22;
    assert.equal(SDK_WARNING.test(run.stderr), belowNode22, run.stderr);
  });

  it("an S3 upload and download by the filetransfer command write no such warning to stderr", async () => {
    const root = path.join(work.path, "root");
    await mkdir(path.join(root, "out"), { recursive: true });
    await writeFile(path.join(root, "out", "result.txt"), "sent through s3rver\n");
    const url = `s3://${server.bucket}/warning-check/result.txt`;
    const env = cleanEnv(server.env);

    const upload = await runCli("upload", { root, outputs: [{ url, path: "/out/result.txt", type: "FILE" }] }, work.path, { env, args: ["--quiet"] });
    assert.equal(upload.code, 0, upload.stderr);
    assert.doesNotMatch(upload.stderr, SDK_WARNING);

    const download = await runCli("download", { root, inputs: [{ url, path: "/in/result.txt", type: "FILE" }] }, work.path, { env, args: ["--quiet"] });
    assert.equal(download.code, 0, download.stderr);
    assert.equal(await readFile(path.join(root, "in", "result.txt"), "utf8"), "sent through s3rver\n");
    assert.doesNotMatch(download.stderr, SDK_WARNING);
  });

  it("only that warning: other warnings still print, and the switch is not left in the environment", () => {
    const code = `
      import { S3Provider } from ${JSON.stringify(PROVIDER)};
      new S3Provider({ region: "us-east-1", forcePathStyle: true, credentials: "anonymous", partSizeInBytes: 8 * 1024 * 1024 });
      process.stdout.write(String(process.env.${SWITCH}));
      process.emitWarning("some other warning");`;
    const unset = runSnippet(code, cleanEnv());
    assert.equal(unset.status, 0, unset.stderr);
    assert.doesNotMatch(unset.stderr, SDK_WARNING);
    assert.match(unset.stderr, /Warning: some other warning/);
    assert.equal(unset.stdout, "undefined", "child processes and other code do not inherit the switch");

    // An operator's own value is given back as it was.
    const set = runSnippet(code, cleanEnv({ [SWITCH]: "false" }));
    assert.equal(set.status, 0, set.stderr);
    assert.equal(set.stdout, "false");
  });
});
