import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadAuthConfig } from "./auth.js";
import { ConfigError } from "./env-reader.js";

const ENTRA = "https://login.microsoftonline.com/{tenantid}/v2.0";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";

function oidc(env: Record<string, string>) {
  const config = loadAuthConfig({ TES_AUTH_MODE: "oidc", OIDC_AUDIENCE: "api://tes", ...env });
  assert.equal(config.mode, "oidc");
  return config.mode === "oidc" ? config : assert.fail();
}

describe("loadAuthConfig", () => {
  it("defaults to mode none: the standalone server", () => {
    assert.deepEqual(loadAuthConfig({}), { mode: "none" });
  });

  it("reads an Entra multi-tenant issuer: the template, organizations discovery, the allow-list and the defaults", () => {
    const config = oidc({ OIDC_ISSUER: ENTRA, OIDC_ALLOWED_TENANTS: TENANT.toUpperCase() });
    assert.equal(config.oidc.issuerIsTemplate, true);
    assert.equal(config.oidc.discoveryUrl.href, "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration");
    assert.deepEqual([...(config.oidc.allowedTenants as Set<string>)], [TENANT]);
    assert.deepEqual(config.oidc.algorithms, ["RS256"]);
    assert.equal(config.oidc.isolation, "per-tenant");
    assert.equal(config.oidc.clockSkewSeconds, 60);
    assert.equal(config.oidc.keysRefreshCooldownSeconds, 300);
    assert.deepEqual(config.publicProcedures, [
      "ga4gh.tes.v1.TaskService/GetServiceInfo",
      "grpc.health.v1.Health/Check",
      "grpc.health.v1.Health/List",
      "grpc.health.v1.Health/Watch",
    ]);
    assert.equal(config.realm, "tes");
  });

  it("reads a single issuer, where the allow-list is optional", () => {
    const config = oidc({ OIDC_ISSUER: "https://idp.example.org/realms/tes", TES_ISOLATION: "per-user", TES_ADMIN_ROLE: "TES.Admin" });
    assert.equal(config.oidc.discoveryUrl.href, "https://idp.example.org/realms/tes/.well-known/openid-configuration");
    assert.equal(config.oidc.allowedTenants, "any");
    assert.equal(config.oidc.isolation, "per-user");
    assert.equal(config.oidc.adminRole, "TES.Admin");
  });

  it("lets TES_AUTH_PUBLIC_METHODS be emptied, so every call needs a token", () => {
    const none = oidc({ OIDC_ISSUER: "https://idp.example.org", TES_AUTH_PUBLIC_METHODS: "none" });
    assert.deepEqual(none.publicProcedures, []);
    const more = oidc({ OIDC_ISSUER: "https://idp.example.org", TES_AUTH_PUBLIC_METHODS: "ga4gh.tes.v1.TaskService/GetServiceInfo,grpc.reflection.v1.ServerReflection/ServerReflectionInfo" });
    assert.equal(more.publicProcedures.length, 2);
  });

  const refusals: Array<[string, Record<string, string>, RegExp]> = [
    ["no issuer", { TES_AUTH_MODE: "oidc", OIDC_AUDIENCE: "a" }, /OIDC_ISSUER is required/],
    ["no audience", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org" }, /OIDC_AUDIENCE is required/],
    ["a template without an allow-list", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: ENTRA, OIDC_AUDIENCE: "a" }, /OIDC_ALLOWED_TENANTS is required/],
    ["a tenant that is not a GUID", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: ENTRA, OIDC_AUDIENCE: "a", OIDC_ALLOWED_TENANTS: "contoso.com" }, /tenant GUIDs/],
    ["HS256", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "a", OIDC_ALGORITHMS: "RS256,HS256" }, /public-key algorithms.*"HS256"/],
    ["none", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "a", OIDC_ALGORITHMS: "none" }, /"none"/],
    ["plain http off loopback", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "http://idp.example.org", OIDC_AUDIENCE: "a" }, /OIDC_ISSUER must be an https URL/],
    ["a clock skew over 5 minutes", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "a", OIDC_CLOCK_SKEW_SECONDS: "900" }, /OIDC_CLOCK_SKEW_SECONDS must be between 0 and 300/],
    ["an unknown mode", { TES_AUTH_MODE: "basic" }, /TES_AUTH_MODE must be one of none, oidc/],
    ["an unknown isolation", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "a", TES_ISOLATION: "per-group" }, /TES_ISOLATION/],
    ["a task procedure made public", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "a", TES_AUTH_PUBLIC_METHODS: "ga4gh.tes.v1.TaskService/ListTasks" }, /may only list ga4gh.tes.v1.TaskService\/GetServiceInfo, /],
    ["a public method that is not a procedure", { TES_AUTH_MODE: "oidc", OIDC_ISSUER: "https://idp.example.org", OIDC_AUDIENCE: "a", TES_AUTH_PUBLIC_METHODS: "/ga4gh/tes/v1/service-info" }, /package.Service\/Method/],
  ];
  for (const [label, env, message] of refusals) {
    it(`refuses ${label} with a ConfigError naming the setting`, () => {
      assert.throws(() => loadAuthConfig(env), (error: unknown) => error instanceof ConfigError && message.test(error.message));
    });
  }
});

describe("describeAuthConfig", () => {
  it("says in one line how callers sign in", async () => {
    const { describeAuthConfig } = await import("./auth.js");
    assert.equal(describeAuthConfig(loadAuthConfig({})), "no sign-in (standalone: one user who sees every task)");
    assert.equal(
      describeAuthConfig(oidc({ OIDC_ISSUER: ENTRA, OIDC_ALLOWED_TENANTS: TENANT, TES_ADMIN_ROLE: "TES.Admin" })),
      `OIDC bearer tokens from ${ENTRA} (1 allowed tenant(s)), isolation per-tenant, admin role TES.Admin; public: ga4gh.tes.v1.TaskService/GetServiceInfo, grpc.health.v1.Health/Check, grpc.health.v1.Health/List, grpc.health.v1.Health/Watch`,
    );
  });
});
