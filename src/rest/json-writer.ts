import { ScalarType, toJson, type DescField, type DescMessage, type JsonObject, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { requiredPlan } from "./required-fields.js";

/**
 * Writes a message as TES JSON: the proto3 JSON mapping with each field's json_name (which the
 * proto sets to the TES name), int64 as strings, enums as names, no nulls, and, unlike plain
 * proto3 JSON, every REQUIRED field present even when it holds its default (exit_code 0,
 * size_bytes "0", empty tasks, logs and outputs), because TES clients validate those.
 */
export function writeTesJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonObject {
  const json = toJson(schema, message) as JsonObject;
  fillRequired(schema, json);
  return json;
}

/** The JSON text of messages already written, for messages that cannot change (see tesJsonBody). */
const writtenBodies = new WeakMap<object, string>();

/**
 * A response body: the message as TES JSON text. A frozen message (the store's shared task views,
 * see TaskViewCache) cannot change, so its text is written once and reused for as long as the
 * message lives; the entry goes with the message, so this holds no more than the views' own bound.
 * Any other message is written afresh. Text rather than bytes: Node sends a string body in one
 * write with the headers, a Buffer body as a second chunk (writev).
 */
export function tesJsonBody<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  if (!Object.isFrozen(message)) return JSON.stringify(writeTesJson(schema, message));
  let body = writtenBodies.get(message);
  if (body === undefined) {
    body = JSON.stringify(writeTesJson(schema, message));
    writtenBodies.set(message, body);
  }
  return body;
}

function fillRequired(schema: DescMessage, json: JsonObject): void {
  const plan = requiredPlan(schema);
  for (const field of plan.required) {
    if (json[field.jsonName] === undefined) json[field.jsonName] = defaultJson(field);
  }
  for (const field of plan.descend) {
    const value = json[field.jsonName];
    if (value === undefined || value === null || field.fieldKind === "scalar" || field.fieldKind === "enum") continue;
    const child = field.message;
    if (child === undefined) continue;
    if (field.fieldKind === "list") {
      for (const item of value as JsonValue[]) fillRequired(child, item as JsonObject);
    } else if (field.fieldKind === "map") {
      for (const item of Object.values(value as JsonObject)) fillRequired(child, item as JsonObject);
    } else {
      fillRequired(child, value as JsonObject);
    }
  }
}

function defaultJson(field: DescField): JsonValue {
  switch (field.fieldKind) {
    case "list":
      return [];
    case "map":
      return {};
    case "enum":
      return field.enum.values.find((value) => value.number === 0)?.name ?? 0;
    case "message": {
      const json: JsonObject = {};
      fillRequired(field.message, json);
      return json;
    }
    case "scalar":
      return scalarDefault(field.scalar);
  }
}

function scalarDefault(scalar: ScalarType): JsonValue {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return "";
    case ScalarType.BOOL:
      return false;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return "0";
    default:
      return 0;
  }
}
