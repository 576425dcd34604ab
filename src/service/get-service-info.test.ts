import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { ServiceInfoSchema } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { loadServiceInfoConfig } from "../config/service-info.js";
import { startHarness, TEST_BACKEND } from "./testing/service-harness.js";

describe("GetServiceInfo", () => {
  it("answers the configured identity, TES 1.1 type, the backend's parameters and storage, as TES JSON", async () => {
    const serviceInfo = loadServiceInfoConfig({
      TES_SERVICE_ID: "org.example.tes",
      TES_SERVICE_NAME: "Example TES",
      TES_SERVICE_DESCRIPTION: "Runs tasks on Azure Batch",
      TES_ORGANIZATION_NAME: "Example Org",
      TES_ORGANIZATION_URL: "https://example.org",
      TES_CONTACT_URL: "https://example.org/contact",
      TES_DOCUMENTATION_URL: "https://example.org/docs",
      TES_SERVICE_CREATED_AT: "2026-01-01T00:00:00Z",
      TES_SERVICE_UPDATED_AT: "2026-11-01T00:00:00Z",
      TES_ENVIRONMENT: "test",
      TES_SERVICE_VERSION: "1.2.3",
      TES_STORAGE: "s3://bucket/prefix,https://user:pw@account.blob.core.windows.net/c?sv=2024&sig=SECRET,file:///srv/tes",
    });
    const h = await startHarness({ serviceInfo });
    try {
      const info = await h.client.getServiceInfo({});
      assert.deepEqual(toJson(ServiceInfoSchema, info), {
        id: "org.example.tes",
        name: "Example TES",
        type: { group: "org.ga4gh", artifact: "tes", version: "1.1.0" },
        description: "Runs tasks on Azure Batch",
        organization: { name: "Example Org", url: "https://example.org" },
        contactUrl: "https://example.org/contact",
        documentationUrl: "https://example.org/docs",
        createdAt: "2026-01-01T00:00:00Z",
        updatedAt: "2026-11-01T00:00:00Z",
        environment: "test",
        version: "1.2.3",
        storage: [
          "file:///srv/tes",
          "https://account.blob.core.windows.net/data",
          "s3://bucket/prefix",
          "https://account.blob.core.windows.net/c",
        ],
        tesResources_backend_parameters: [...TEST_BACKEND.backendParameters],
      });
      assert.ok(!JSON.stringify(toJson(ServiceInfoSchema, info)).includes("SECRET"));
    } finally {
      await h.close();
    }
  });

  it("has working defaults: required fields set, optional ones left out, the package version", async () => {
    const h = await startHarness({ backend: { name: "local", backendParameters: [], storage: [] } });
    try {
      const json = toJson(ServiceInfoSchema, await h.client.getServiceInfo({})) as Record<string, unknown>;
      assert.deepEqual(Object.keys(json).sort(), ["id", "name", "organization", "type", "version"]);
      assert.match(String(json.version), /^\d+\.\d+\.\d+/);
    } finally {
      await h.close();
    }
  });
});
