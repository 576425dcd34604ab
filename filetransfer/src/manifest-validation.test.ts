import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManifestError, parseManifest } from "./manifest-validation.js";

describe("parseManifest", () => {
  it("accepts TES inputs and outputs as they come", () => {
    const manifest = parseManifest({
      root: "/mnt/task",
      inputs: [{ url: "https://h/x", path: "/data/x", type: "FILE", streamable: true }, { content: "hi", path: "/data/c" }],
      outputs: [{ url: "s3://b/res/", path: "/data/out/*.txt", path_prefix: "/data/out/" }],
    });
    assert.equal(manifest.inputs?.length, 2);
    assert.equal(manifest.outputs?.[0]?.path_prefix, "/data/out/");
  });

  it("names every bad field, and leaves no secret in the message", () => {
    const error = (() => {
      try {
        parseManifest({
          root: "relative",
          inputs: [{ url: "not a url?sig=SECRETSIG", path: "/a" }, { path: "data/x", url: "https://h/x" }, { path: "/a/../../etc/passwd", url: "https://h/x" }, { path: "/b" }],
          outputs: [{ url: "https://h/", path: "/out/*.txt" }, { url: "https://h/", path: "/out/*.txt", path_prefix: "/other/" }, { path: "/o", url: "https://h/o", type: "FOLDER" }],
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ManifestError);
    assert.deepEqual(error.problems, [
      "root: must be an absolute host directory path",
      'inputs[0].url: "not a url?sig=REDACTED" is not an absolute URL',
      'inputs[1].path: path "data/x" is not absolute',
      'inputs[2].path: path "/a/../../etc/passwd" contains a ".." segment',
      "inputs[3]: needs a url or a non-empty content",
      "outputs[0].path_prefix: is required when path holds wildcards",
      'outputs[1].path_prefix: "/other/" is not a prefix of path "/out/*.txt"',
      'outputs[2].type: must be "FILE" or "DIRECTORY"',
    ]);
  });
});
