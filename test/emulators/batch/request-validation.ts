import { errors, propertyError } from "./batch-error.js";
import type { Json } from "./account-model.js";
import { parseDuration } from "./iso-duration.js";

/**
 * Checks on request bodies, each failing with the service's 400 codes (MissingRequiredProperty,
 * InvalidPropertyValue) and the property's name in `values`.
 */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function asObject(value: unknown, property: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw propertyError(errors.invalidPropertyValue, property, "must be an object");
  }
  return value as Json;
}

export function requireObject(body: Json, property: string, path = property): Json {
  const value = body[property];
  if (value === undefined || value === null) throw propertyError(errors.missingRequiredProperty, path);
  return asObject(value, path);
}

export function requireId(body: Json, property = "id"): string {
  const value = body[property];
  if (value === undefined || value === null || value === "") throw propertyError(errors.missingRequiredProperty, property);
  // §3 "Task body": ≤ 64 of [A-Za-z0-9_-]; pools and jobs follow the same rule.
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw propertyError(errors.invalidPropertyValue, property, "may contain only letters, digits, hyphens and underscores, at most 64");
  }
  return value;
}

export function requireString(body: Json, property: string, path = property): string {
  const value = body[property];
  if (value === undefined || value === null || value === "") throw propertyError(errors.missingRequiredProperty, path);
  if (typeof value !== "string") throw propertyError(errors.invalidPropertyValue, path, "must be a string");
  return value;
}

export function optionalString(body: Json, property: string, path = property): string | undefined {
  const value = body[property];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw propertyError(errors.invalidPropertyValue, path, "must be a string");
  return value;
}

export function optionalInteger(body: Json, property: string, range: { min: number; max: number }, path = property): number | undefined {
  const value = body[property];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw propertyError(errors.invalidPropertyValue, path, `must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

export function optionalBoolean(body: Json, property: string, path = property): boolean | undefined {
  const value = body[property];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw propertyError(errors.invalidPropertyValue, path, "must be true or false");
  return value;
}

/** An ISO-8601 duration in milliseconds (§2: durations are strings). */
export function optionalDuration(body: Json, property: string, path = property): number | undefined {
  const value = body[property];
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === "string" ? parseDuration(value) : undefined;
  if (ms === undefined) throw propertyError(errors.invalidPropertyValue, path, "must be an ISO-8601 duration such as PT5M");
  return ms;
}

/** Enum values are accepted in any case (§8 "Accept enum inputs in any case; emit camelCase"). */
export function optionalEnum<const T extends string>(body: Json, property: string, choices: readonly T[], path = property): T | undefined {
  const value = body[property];
  if (value === undefined || value === null) return undefined;
  const match = typeof value === "string" ? choices.find((c) => c.toLowerCase() === value.toLowerCase()) : undefined;
  if (match === undefined) throw propertyError(errors.invalidPropertyValue, path, `must be one of ${choices.join(", ")}`);
  return match;
}

/** Properties the service accepts but the emulator does not emulate: refused loudly, never ignored. */
export function refuseUnemulated(body: Json, properties: readonly string[], prefix = ""): void {
  for (const property of properties) {
    const value = body[property];
    if (value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0)) {
      throw propertyError(errors.unsupportedProperty, `${prefix}${property}`, "this property is not emulated by the Batch emulator");
    }
  }
}

export function environmentSettings(body: Json, property: string): { name: string; value: string }[] {
  const value = body[property];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw propertyError(errors.invalidPropertyValue, property, "must be a list");
  return value.map((item, i) => {
    const setting = asObject(item, `${property}[${i}]`);
    return { name: requireString(setting, "name", `${property}[${i}].name`), value: optionalString(setting, "value", `${property}[${i}].value`) ?? "" };
  });
}
