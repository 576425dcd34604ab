import type { DescEnum } from "@bufbuild/protobuf";
import { errors } from "./errors.js";

/**
 * proto3 enums are open: a binary or numeric-JSON client can send a number the schema does not
 * name. Such a value is refused here instead of being stored or passed to the store.
 */
export function checkEnumValue(field: string, value: number, schema: DescEnum): void {
  if (schema.values.some((known) => known.number === value)) return;
  throw errors.unknownEnumValue(field, value, schema.values.map((known) => known.name));
}
