import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

/**
 * Validates REST response bodies against the component schemas of the TES 1.1 OpenAPI
 * (test/fixtures/tes.openapi.yaml, an unchanged copy of the spec), made strict: every object
 * schema forbids properties it does not define, so an extra key, a null or a wrong type fails.
 */
type Schema = Record<string, unknown>;

const SPEC_PATH = new URL("../fixtures/tes.openapi.yaml", import.meta.url);

/**
 * The spec's tesServiceInfo and tesServiceType extend GA4GH service-info 1.0.0 by a remote $ref,
 * which tests cannot fetch; these are that document's Service and ServiceType schemas.
 */
const SERVICE_INFO_SCHEMAS: Record<string, Schema> = {
  ServiceType: {
    type: "object",
    required: ["group", "artifact", "version"],
    properties: { group: { type: "string" }, artifact: { type: "string" }, version: { type: "string" } },
  },
  Service: {
    type: "object",
    required: ["id", "name", "type", "organization", "version"],
    properties: {
      id: { type: "string" },
      name: { type: "string" },
      type: { $ref: "#/definitions/ServiceType" },
      description: { type: "string" },
      organization: {
        type: "object",
        required: ["name", "url"],
        properties: { name: { type: "string" }, url: { type: "string", format: "uri" } },
      },
      contactUrl: { type: "string", format: "uri" },
      documentationUrl: { type: "string", format: "uri" },
      createdAt: { type: "string", format: "date-time" },
      updatedAt: { type: "string", format: "date-time" },
      environment: { type: "string" },
      version: { type: "string" },
    },
  },
};

export type TesSchemaName =
  | "tesTask"
  | "tesListTasksResponse"
  | "tesCreateTaskResponse"
  | "tesCancelTaskResponse"
  | "tesServiceInfo"
  | "tesTaskLog"
  | "tesExecutorLog"
  | "tesOutputFileLog";

export interface ValidationResult {
  readonly valid: boolean;
  /** One line per problem, with the JSON pointer of the offending value. */
  readonly errors: readonly string[];
}

let compiled: { ajv: Ajv; definitions: Record<string, Schema> } | undefined;

function load(): { ajv: Ajv; definitions: Record<string, Schema> } {
  if (compiled !== undefined) return compiled;
  const spec = parse(readFileSync(SPEC_PATH, "utf8")) as { components: { schemas: Record<string, Schema> } };
  const raw: Record<string, Schema> = { ...SERVICE_INFO_SCHEMAS, ...spec.components.schemas };
  const definitions: Record<string, Schema> = {};
  for (const [name, schema] of Object.entries(raw)) definitions[name] = strict(schema, raw);
  // The MINIMAL view is a task with only its id and state.
  definitions.tesTaskMinimal = {
    type: "object",
    additionalProperties: false,
    required: ["id", "state"],
    properties: { id: { type: "string" }, state: { $ref: "#/definitions/tesState" } },
  };
  definitions.tesListTasksResponseMinimal = {
    type: "object",
    additionalProperties: false,
    required: ["tasks"],
    properties: {
      tasks: { type: "array", items: { $ref: "#/definitions/tesTaskMinimal" } },
      next_page_token: { type: "string" },
    },
  };
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  ajv.addSchema({ $id: "tes", definitions }, "tes");
  compiled = { ajv, definitions };
  return compiled;
}

/** Rewrites refs to local definitions, merges allOf, and forbids undeclared properties. */
function strict(schema: Schema, all: Record<string, Schema>): Schema {
  if (Array.isArray(schema.allOf)) {
    const merged: Schema = { type: "object", properties: {}, required: [] as string[] };
    for (const part of schema.allOf as Schema[]) {
      const resolved = resolveRef(part, all);
      Object.assign(merged.properties as Schema, resolved.properties ?? {});
      (merged.required as string[]).push(...((resolved.required as string[] | undefined) ?? []));
    }
    merged.required = [...new Set(merged.required as string[])];
    return strict(merged, all);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "example" || key === "description" || key === "readOnly") continue;
    if (key === "$ref" && typeof value === "string") {
      out.$ref = `#/definitions/${value.slice(value.lastIndexOf("/") + 1)}`;
    } else if (key === "properties" && typeof value === "object" && value !== null) {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, strict(v, all)]));
    } else if ((key === "items" || key === "additionalProperties") && typeof value === "object" && value !== null) {
      out[key] = strict(value as Schema, all);
    } else {
      out[key] = value;
    }
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  if (out.type === "object" && out.properties === undefined && out.additionalProperties === undefined) {
    out.additionalProperties = false; // tesCancelTaskResponse: an object with no properties
  }
  return out;
}

function resolveRef(schema: Schema, all: Record<string, Schema>): Schema {
  if (typeof schema.$ref !== "string") return schema;
  const name = schema.$ref.slice(schema.$ref.lastIndexOf("/") + 1);
  const target = all[name];
  if (target === undefined) throw new Error(`unknown schema ${schema.$ref}`);
  return resolveRef(target, all);
}

/** Validates `body` against a component schema (or the MINIMAL task shapes, by their own names). */
export function validateTes(name: TesSchemaName | "tesTaskMinimal" | "tesListTasksResponseMinimal", body: unknown): ValidationResult {
  const { ajv } = load();
  const validate = ajv.getSchema(`tes#/definitions/${name}`) as ValidateFunction | undefined;
  if (validate === undefined) throw new Error(`no schema ${name}`);
  const valid = validate(body);
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
  return { valid: valid === true, errors };
}

/** Throws with every problem listed when `body` does not fit the schema. */
export function assertValidTes(name: Parameters<typeof validateTes>[0], body: unknown): void {
  const result = validateTes(name, body);
  if (!result.valid) {
    throw new Error(`response does not match ${name}:\n  ${result.errors.join("\n  ")}\nbody: ${JSON.stringify(body)}`);
  }
}

/** Property names each component schema defines, for checking the proto's json_names. */
export function schemaPropertyNames(name: string): string[] {
  const schema = load().definitions[name];
  if (schema === undefined) throw new Error(`no schema ${name}`);
  return Object.keys((schema.properties as Schema | undefined) ?? {});
}
