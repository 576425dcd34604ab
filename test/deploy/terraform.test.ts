import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "@cdktf/hcl2json";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIR = join(ROOT, "deploy/terraform");

type Json = Record<string, unknown>;

/** Every string in a parsed document, with where it sits. */
function strings(value: unknown, path: string, out: Array<[string, string]>): void {
  if (typeof value === "string") out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((item, i) => strings(item, `${path}[${i}]`, out));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) strings(v, `${path}.${k}`, out);
}

/** The settings the server reads (quoted upper-case names in its source). */
function knownSettings(): Set<string> {
  const known = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) for (const m of readFileSync(join(ROOT, path), "utf8").matchAll(/"([A-Z][A-Z0-9_]{2,})"/g)) known.add(m[1]!);
    }
  };
  for (const dir of ["src", "worker", "filetransfer/src"]) walk(dir);
  return known;
}

// No terraform binary here: the files are parsed with @cdktf/hcl2json (HashiCorp's HCL parser,
// compiled to WebAssembly) and their references resolved; `terraform validate/plan` is not run.
describe("deploy/terraform: every file parses, every reference resolves", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".tf")).sort();
  const parsed = new Map<string, Json>();
  const declared = { variable: new Set<string>(), local: new Set<string>(), resource: new Set<string>(), data: new Set<string>(), module: new Set<string>() };

  before(async () => {
    for (const file of files) {
      const json = (await parse(file, readFileSync(join(DIR, file), "utf8"))) as Json;
      parsed.set(file, json);
      for (const name of Object.keys((json.variable as Json | undefined) ?? {})) declared.variable.add(name);
      for (const block of (json.locals as Json[] | undefined) ?? []) for (const name of Object.keys(block)) declared.local.add(name);
      for (const [type, byName] of Object.entries((json.resource as Json | undefined) ?? {})) for (const name of Object.keys(byName as Json)) declared.resource.add(`${type}.${name}`);
      for (const [type, byName] of Object.entries((json.data as Json | undefined) ?? {})) for (const name of Object.keys(byName as Json)) declared.data.add(`${type}.${name}`);
      for (const name of Object.keys((json.module as Json | undefined) ?? {})) declared.module.add(name);
    }
  });

  test("the parts production needs are declared", () => {
    for (const resource of [
      "azurerm_resource_group.tes",
      "azurerm_batch_account.tes",
      "azurerm_storage_account.tes",
      "azurerm_key_vault.tes",
      "azurerm_key_vault_secret.database_url",
      "azurerm_key_vault_secret.redis_url",
      "azurerm_postgresql_flexible_server.tes",
      "azurerm_redis_cache.tes",
      "azurerm_container_app.server",
      "azurerm_container_app.worker",
      "azurerm_user_assigned_identity.server",
      "azurerm_user_assigned_identity.worker",
      "azurerm_application_insights.tes",
      "azurerm_log_analytics_workspace.tes",
    ]) {
      assert.ok(declared.resource.has(resource), `${resource} is declared`);
    }
    const roles = new Map<string, string[]>();
    for (const json of parsed.values()) {
      for (const [name, blocks] of Object.entries(((json.resource as Json | undefined)?.azurerm_role_assignment as Json | undefined) ?? {})) {
        const block = (blocks as Json[])[0]!;
        const role = block.role_definition_name as string;
        roles.set(role, [...(roles.get(role) ?? []), `${name}: ${block.principal_id as string}`]);
      }
    }
    for (const role of ["Contributor", "Storage Blob Data Contributor", "Key Vault Secrets User", "AcrPull"]) assert.ok(roles.has(role), `a ${role} role assignment`);
    assert.ok(roles.get("Key Vault Secrets User")!.some((a) => a.includes("identity.server")) && roles.get("Key Vault Secrets User")!.some((a) => a.includes("identity.worker")));
  });

  test("every var., local., data., module. and resource reference resolves to a declaration", () => {
    const unresolved: string[] = [];
    for (const [file, json] of parsed) {
      const found: Array<[string, string]> = [];
      strings(json, file, found);
      for (const [where, text] of found) {
        for (const expression of text.matchAll(/\$\{([^}]*)\}/g)) {
          const expr = expression[1]!;
          for (const m of expr.matchAll(/\bvar\.([A-Za-z_][\w-]*)/g)) if (!declared.variable.has(m[1]!)) unresolved.push(`${where}: var.${m[1]}`);
          for (const m of expr.matchAll(/\blocal\.([A-Za-z_][\w-]*)/g)) if (!declared.local.has(m[1]!)) unresolved.push(`${where}: local.${m[1]}`);
          for (const m of expr.matchAll(/\bdata\.([a-z][\w]*)\.([A-Za-z_][\w-]*)/g)) if (!declared.data.has(`${m[1]}.${m[2]}`)) unresolved.push(`${where}: data.${m[1]}.${m[2]}`);
          for (const m of expr.matchAll(/\bmodule\.([A-Za-z_][\w-]*)/g)) if (!declared.module.has(m[1]!)) unresolved.push(`${where}: module.${m[1]}`);
          for (const m of expr.matchAll(/(?<![\w.])((?:azurerm|random|azuread)_[a-z_]+)\.([A-Za-z_][\w-]*)/g)) {
            if (!declared.resource.has(`${m[1]}.${m[2]}`)) unresolved.push(`${where}: ${m[1]}.${m[2]}`);
          }
        }
      }
    }
    assert.deepEqual(unresolved, []);
  });

  test("every variable and output is documented; outputs give the TES URL", () => {
    for (const json of parsed.values()) {
      for (const [name, blocks] of Object.entries((json.variable as Json | undefined) ?? {})) {
        const description = (blocks as Json[])[0]!.description;
        assert.ok(typeof description === "string" && description.length > 10, `variable ${name} has a description`);
      }
      for (const [name, blocks] of Object.entries((json.output as Json | undefined) ?? {})) {
        assert.ok(typeof (blocks as Json[])[0]!.description === "string", `output ${name} has a description`);
      }
    }
    const outputs = parsed.get("outputs.tf")!.output as Json;
    assert.match(((outputs.tes_url as Json[])[0]!.value as string), /^https:\/\/\$\{azurerm_container_app\.server\.ingress\[0\]\.fqdn\}\/ga4gh\/tes\/v1$/);
  });

  test("the apps' environment names only settings the server reads", () => {
    const known = knownSettings();
    const apps = parsed.get("apps.tf")!;
    const locals = (apps.locals as Json[]).reduce<Json>((all, block) => ({ ...all, ...block }), {});
    const names = [...Object.keys(locals.common_env as Json), ...Object.keys(locals.secret_env as Json), "AZURE_CLIENT_ID", "OIDC_ISSUER", "OIDC_AUDIENCE"];
    for (const name of names) assert.ok(known.has(name), `${name} is a setting the code reads`);
  });
});
