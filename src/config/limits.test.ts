import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./env-reader.js";
import { loadLimitsConfig } from "./limits.js";

describe("loadLimitsConfig", () => {
  it("has defaults sized for real workflows, within what TES requires", () => {
    const limits = loadLimitsConfig({});
    assert.equal(limits.maxInputContentBytes, 1024 * 1024);
    assert.ok(limits.maxInputContentBytes >= 128 * 1024);
    assert.ok(limits.maxTotalInputContentBytes >= limits.maxInputContentBytes);
    assert.equal(limits.defaultPageSize, 256);
    assert.equal(limits.maxPageSize, 2047);
    assert.equal(limits.maxExecutors, 64);
  });

  it("reads each TES_MAX_* variable", () => {
    const limits = loadLimitsConfig({
      TES_MAX_EXECUTORS: "5",
      TES_MAX_INPUT_CONTENT_BYTES: "200000",
      TES_MAX_TOTAL_INPUT_CONTENT_BYTES: "300000",
      TES_MAX_TAGS: "7",
      TES_MAX_PAGE_SIZE: "100",
      TES_DEFAULT_PAGE_SIZE: "50",
    });
    assert.equal(limits.maxExecutors, 5);
    assert.equal(limits.maxInputContentBytes, 200000);
    assert.equal(limits.maxTotalInputContentBytes, 300000);
    assert.equal(limits.maxTags, 7);
    assert.equal(limits.maxPageSize, 100);
    assert.equal(limits.defaultPageSize, 50);
  });

  it("keeps the default page size within a lower maximum", () => {
    assert.equal(loadLimitsConfig({ TES_MAX_PAGE_SIZE: "100" }).defaultPageSize, 100);
  });

  for (const [name, value, message] of [
    ["TES_MAX_INPUT_CONTENT_BYTES", "1000", "TES_MAX_INPUT_CONTENT_BYTES must be between 131072 and"],
    ["TES_MAX_PAGE_SIZE", "2048", "TES_MAX_PAGE_SIZE must be between 1 and 2047, got 2048"],
    ["TES_MAX_EXECUTORS", "0", "TES_MAX_EXECUTORS must be between 1 and"],
    ["TES_MAX_TAGS", "lots", 'TES_MAX_TAGS must be an integer, got "lots"'],
  ] as const) {
    it(`refuses ${name}=${value}`, () => {
      assert.throws(() => loadLimitsConfig({ [name]: value }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.message.startsWith(message), error.message);
        return true;
      });
    });
  }

  it("refuses a total content limit below the per-input limit", () => {
    assert.throws(
      () => loadLimitsConfig({ TES_MAX_TOTAL_INPUT_CONTENT_BYTES: "131072" }),
      /TES_MAX_TOTAL_INPUT_CONTENT_BYTES must be between 1048576 and/,
    );
  });
});
