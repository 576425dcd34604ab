import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "./env-reader.js";
import { loadServiceInfoConfig, publicStorageLocation } from "./service-info.js";

describe("loadServiceInfoConfig", () => {
  it("has defaults for every required field", () => {
    const config = loadServiceInfoConfig({});
    assert.equal(config.id, "org.ga4gh.tes.azure");
    assert.equal(config.name, "TES on Azure");
    assert.equal(config.organization.url, "https://example.org");
    assert.match(config.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(config.storage, []);
    assert.equal(config.contactUrl, undefined);
  });

  for (const [name, value, message] of [
    ["TES_ORGANIZATION_URL", "not a url", "TES_ORGANIZATION_URL must be an http or https URL"],
    ["TES_CONTACT_URL", "mailto:ops@example.org", "TES_CONTACT_URL must be an http or https URL, got a mailto: URL"],
    ["TES_DOCUMENTATION_URL", "https://u:p@example.org/docs", "TES_DOCUMENTATION_URL must not contain credentials"],
    ["TES_SERVICE_CREATED_AT", "yesterday", 'TES_SERVICE_CREATED_AT must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z, got "yesterday"'],
  ] as const) {
    it(`refuses ${name}=${value}`, () => {
      assert.throws(() => loadServiceInfoConfig({ [name]: value }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, message);
        assert.ok(!error.message.includes(":p@"));
        return true;
      });
    });
  }

  it("strips credentials, SAS queries and fragments from advertised storage", () => {
    assert.equal(
      publicStorageLocation("https://acct.blob.core.windows.net/c?sv=2024-01-01&sig=abc"),
      "https://acct.blob.core.windows.net/c",
    );
    assert.equal(publicStorageLocation("sftp://user:pw@host/data"), "sftp://host/data");
    assert.equal(publicStorageLocation("s3://bucket/prefix"), "s3://bucket/prefix");
    assert.equal(publicStorageLocation("/mnt/shared"), "/mnt/shared");
  });
});
