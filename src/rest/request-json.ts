import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { fieldGivenTwice, fieldLookup, invalidField } from "./json-reader.js";
import type { HttpRoute } from "./http-routes.js";
import type { PathBindings } from "./path-template.js";

type JsonObject = Record<string, unknown>;

/**
 * Merges what a REST request carries into one JSON object for the request message, following
 * google.api.http: path variables always; the body as the whole message (`body: "*"`) or one
 * field; query parameters for the fields neither binds. Values stay strings here; the JSON reader
 * converts them by field type (so `page_size=5`, `view=FULL`, `state=RUNNING` all work).
 */
export function requestJson(route: HttpRoute, bindings: PathBindings, query: URLSearchParams, body: unknown): JsonObject {
  const schema = route.method.input;
  let json: JsonObject;
  if (route.body === "*") {
    json = body === undefined ? {} : asObject(body);
  } else {
    json = {};
    if (route.body !== "" && body !== undefined) json[route.body] = body;
    addQuery(schema, json, query, new Set([route.body, ...bindings.map(([path]) => path[0] ?? "")]));
  }
  for (const [fieldPath, value] of bindings) setPath(schema, json, fieldPath, value);
  return json;
}

function asObject(body: unknown): JsonObject {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidField("", "the request body must be a JSON object");
  }
  return body as JsonObject;
}

function addQuery(schema: DescMessage, json: JsonObject, query: URLSearchParams, bound: Set<string>): void {
  const given = new Map<DescField, string>();
  for (const key of new Set(query.keys())) {
    const fields = resolvePath(schema, key.split("."));
    if (fields === undefined) continue; // unknown parameters (cache busters and the like) are ignored
    const top = fields[0] as DescField;
    if (bound.has(top.name) || bound.has(top.jsonName)) continue;
    const field = fields[fields.length - 1] as DescField;
    const earlier = given.get(field);
    if (earlier !== undefined) throw fieldGivenTwice(field.jsonName, earlier, key);
    given.set(field, key);
    const values = query.getAll(key);
    let value: unknown;
    if (field.fieldKind === "list") {
      value = values;
    } else if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
      if (values.length > 1) throw invalidField(field.jsonName, "is given more than once but takes one value");
      value = values[0];
    } else {
      continue; // messages and maps cannot be written as one query parameter
    }
    let target = json;
    for (const parent of fields.slice(0, -1)) {
      const existing = target[parent.jsonName];
      const next: JsonObject = typeof existing === "object" && existing !== null ? (existing as JsonObject) : {};
      target[parent.jsonName] = next;
      target = next;
    }
    target[field.jsonName] = value;
  }
}

/** The fields along a dotted path of proto or JSON names; undefined if any step is unknown. */
function resolvePath(schema: DescMessage, names: readonly string[]): DescField[] | undefined {
  const fields: DescField[] = [];
  let message: DescMessage | undefined = schema;
  for (const name of names) {
    const field: DescField | undefined = message?.field[name] ?? fieldLookup(message ?? schema).get(name);
    if (message === undefined || field === undefined) return undefined;
    fields.push(field);
    message = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}

function setPath(schema: DescMessage, json: JsonObject, fieldPath: readonly string[], value: string): void {
  const fields = resolvePath(schema, fieldPath);
  if (fields === undefined) {
    throw new Error(`path variable ${fieldPath.join(".")} is not a field of ${schema.typeName}`);
  }
  let target = json;
  fields.forEach((field, index) => {
    if (index === fields.length - 1) {
      target[field.jsonName] = value;
      // The path wins over any alias of the same field in the body.
      for (const alias of [field.name, field.localName]) if (alias !== field.jsonName) delete target[alias];
      return;
    }
    const existing = target[field.jsonName];
    const next: JsonObject = typeof existing === "object" && existing !== null ? { ...(existing as JsonObject) } : {};
    target[field.jsonName] = next;
    target = next;
  });
}
