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

interface Parsed {
  /** File name (relative to deploy/terraform) to its JSON form. */
  files: Map<string, Json>;
  declared: { variable: Set<string>; local: Set<string>; resource: Set<string>; data: Set<string>; module: Set<string> };
}

/** Every .tf file of one Terraform module (a directory), parsed, with what it declares. */
async function parseModule(dir: string): Promise<Parsed> {
  const files = new Map<string, Json>();
  const declared = { variable: new Set<string>(), local: new Set<string>(), resource: new Set<string>(), data: new Set<string>(), module: new Set<string>() };
  for (const file of readdirSync(join(DIR, dir)).filter((f) => f.endsWith(".tf")).sort()) {
    const name = join(dir, file);
    const json = (await parse(name, readFileSync(join(DIR, name), "utf8"))) as Json;
    files.set(name, json);
    for (const name of Object.keys((json.variable as Json | undefined) ?? {})) declared.variable.add(name);
    for (const block of (json.locals as Json[] | undefined) ?? []) for (const name of Object.keys(block)) declared.local.add(name);
    for (const [type, byName] of Object.entries((json.resource as Json | undefined) ?? {})) for (const name of Object.keys(byName as Json)) declared.resource.add(`${type}.${name}`);
    for (const [type, byName] of Object.entries((json.data as Json | undefined) ?? {})) for (const name of Object.keys(byName as Json)) declared.data.add(`${type}.${name}`);
    for (const name of Object.keys((json.module as Json | undefined) ?? {})) declared.module.add(name);
  }
  return { files, declared };
}

/** References in a module that name nothing it declares. A `moved` block's `from` is an old address, so it is not one. */
function unresolvedReferences({ files, declared }: Parsed): string[] {
  const unresolved: string[] = [];
  for (const [file, json] of files) {
    const found: Array<[string, string]> = [];
    const { moved, ...rest } = json;
    strings(rest, file, found);
    for (const [i, block] of ((moved as Json[] | undefined) ?? []).entries()) strings((block as Json).to, `${file}.moved[${i}].to`, found);
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
  return unresolved;
}

const APP_MODULE = "modules/tes-container-app";

// No terraform binary here: the files are parsed with @cdktf/hcl2json (HashiCorp's HCL parser,
// compiled to WebAssembly) and their references resolved; `terraform validate/plan` is not run.
describe("deploy/terraform: every file parses, every reference resolves", () => {
  let root: Parsed;
  let appModule: Parsed;
  let parsed: Map<string, Json>;
  let declared: Parsed["declared"];
  /** The server and worker module calls, by name. */
  let apps: Record<"server" | "worker", Json>;

  before(async () => {
    root = await parseModule(".");
    appModule = await parseModule(APP_MODULE);
    parsed = root.files;
    declared = root.declared;
    const calls = (parsed.get("apps.tf")!.module ?? {}) as Record<string, Json[]>;
    apps = { server: calls.server?.[0] ?? {}, worker: calls.worker?.[0] ?? {} };
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
      "azurerm_user_assigned_identity.server",
      "azurerm_user_assigned_identity.worker",
      "azurerm_application_insights.tes",
      "azurerm_log_analytics_workspace.tes",
    ]) {
      assert.ok(declared.resource.has(resource), `${resource} is declared`);
    }
    // The two Container Apps are the one module's resource, and a deployment made before the module
    // existed keeps them: its state moves to the new addresses instead of replacing the apps.
    assert.ok(appModule.declared.resource.has("azurerm_container_app.this"));
    const moved = ((parsed.get("apps.tf")!.moved as Json[] | undefined) ?? []).map((block) => `${block.from as string} -> ${block.to as string}`);
    for (const role of ["server", "worker"] as const) {
      assert.equal(apps[role].source, `./${APP_MODULE}`, `module ${role} is the container app module`);
      assert.equal(apps[role].role, role);
      assert.ok(moved.includes(`\${azurerm_container_app.${role}} -> \${module.${role}.azurerm_container_app.this}`), `the ${role} app is moved, not replaced`);
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
    assert.deepEqual(unresolvedReferences(root), []);
    assert.deepEqual(unresolvedReferences(appModule), []);
  });

  test("every variable and output is documented; outputs give the TES URL", () => {
    for (const json of [...parsed.values(), ...appModule.files.values()]) {
      for (const [name, blocks] of Object.entries((json.variable as Json | undefined) ?? {})) {
        const description = (blocks as Json[])[0]!.description;
        assert.ok(typeof description === "string" && description.length > 10, `variable ${name} has a description`);
      }
      for (const [name, blocks] of Object.entries((json.output as Json | undefined) ?? {})) {
        assert.ok(typeof (blocks as Json[])[0]!.description === "string", `output ${name} has a description`);
      }
    }
    const outputs = parsed.get("outputs.tf")!.output as Json;
    assert.match(((outputs.tes_url as Json[])[0]!.value as string), /^https:\/\/\$\{module\.server\.ingress_fqdn\}\/ga4gh\/tes\/v1$/);
    const fqdn = (appModule.files.get(join(APP_MODULE, "outputs.tf"))!.output as Record<string, Json[]>).ingress_fqdn![0]!.value as string;
    assert.match(fqdn, /azurerm_container_app\.this\.ingress\[0\]\.fqdn/);
  });

  /** apps.tf's locals, merged. */
  const appLocals = () => ((parsed.get("apps.tf")!.locals as Json[]) ?? []).reduce<Json>((all, block) => ({ ...all, ...block }), {});
  /** The names an app adds to the shared settings: the keys of the object merged after local.common_env. */
  const ownEnvNames = (role: "server" | "worker") => [...(apps[role].env as string).matchAll(/^\s+([A-Z][A-Z0-9_]*)\s+=/gm)].map((m) => m[1]!);

  test("the apps' environment names only settings the server reads", () => {
    const known = knownSettings();
    const locals = appLocals();
    const names = [...Object.keys(locals.common_env as Json), ...Object.keys(locals.secret_env as Json), ...ownEnvNames("server"), ...ownEnvNames("worker")];
    assert.ok(names.includes("AZURE_CLIENT_ID") && names.includes("OIDC_ISSUER"), "the apps' own settings were found");
    for (const name of names) assert.ok(known.has(name), `${name} is a setting the code reads`);
  });

  test("both apps receive every shared setting and secret, and neither overrides one", () => {
    const locals = appLocals();
    const shared = new Set([...Object.keys(locals.common_env as Json), ...Object.keys(locals.secret_env as Json)]);
    for (const role of ["server", "worker"] as const) {
      assert.match(apps[role].env as string, /^\$\{merge\(local\.common_env, \{/, `${role}: env is the shared settings, then its own`);
      const own = ownEnvNames(role);
      assert.ok(own.includes("AZURE_CLIENT_ID"), `${role} runs as its own identity`);
      assert.deepEqual(own.filter((name) => shared.has(name)), [], `${role} sets a shared name again (merge would replace it, or a secret would be doubled)`);
      // Whatever both apps are given alike is local.app_shared, passed whole.
      assert.equal(apps[role].shared, "${local.app_shared}", `${role}.shared`);
    }
    assert.equal((locals.app_shared as Json).key_vault_secrets, "${{ for name, secret in local.secret_env : name => secret.versionless_id }}");
    assert.equal((apps.server.ingress as Json | undefined)?.target_port, 8000, "the server is reached on its port");
    assert.equal(apps.worker.ingress, undefined, "the worker takes no traffic");
  });

  test("the app module: every input a call gives is declared, every required one is given by both, and all of it reaches the container", () => {
    const variables = appModule.files.get(join(APP_MODULE, "variables.tf"))!.variable as Record<string, Json[]>;
    const required = Object.keys(variables).filter((name) => !("default" in variables[name]![0]!)).sort();
    for (const role of ["server", "worker"] as const) {
      const given = Object.keys(apps[role]).filter((key) => key !== "source" && key !== "depends_on");
      assert.deepEqual(given.filter((key) => !(key in variables)), [], `${role} gives inputs the module does not declare`);
      assert.deepEqual(required.filter((name) => !given.includes(name)), [], `${role} leaves required inputs out`);
    }
    const main = appModule.files.get(join(APP_MODULE, "main.tf"))!;
    const app = ((main.resource as Json).azurerm_container_app as Record<string, Json[]>).this![0]!;
    const dynamic = (block: Json, name: string) => ((block.dynamic as Record<string, Json[]>)[name] ?? []).map((d) => ({ for_each: d.for_each, content: (d.content as Json[])[0] }));
    const container = ((app.template as Json[])[0]!.container as Json[])[0]!;
    assert.deepEqual(dynamic(container, "env"), [
      { for_each: "${var.env}", content: { name: "${env.key}", value: "${env.value}" } },
      { for_each: "${local.secret_names}", content: { name: "${env.key}", secret_name: "${env.value}" } },
    ]);
    assert.deepEqual(dynamic(app, "secret"), [
      { for_each: "${var.shared.key_vault_secrets}", content: { name: "${local.secret_names[secret.key]}", key_vault_secret_id: "${secret.value}", identity: "${var.identity_id}" } },
    ]);
    const moduleLocals = ((main.locals as Json[]) ?? []).reduce<Json>((all, block) => ({ ...all, ...block }), {});
    assert.match(moduleLocals.secret_names as string, /for name in keys\(var\.shared\.key_vault_secrets\)/);
    assert.deepEqual(container.args, ["${var.role}"]);
  });
});
