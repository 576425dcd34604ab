import type { LimitsConfig } from "../config/limits.js";
import { errors } from "./errors.js";
import { checkBytes, checkCount, checkNoNul } from "./text-limits.js";

export type TagFilter = ReadonlyArray<readonly [key: string, value: string]>;

/**
 * TES 1.1 §ListTasks: tag_key and tag_value are zipped by position. A key without a value (the
 * trailing keys when fewer values are sent) matches any value of that key; more values than keys
 * cannot be paired and are refused.
 */
export function zipTagFilter(keys: readonly string[], values: readonly string[], limits: LimitsConfig): TagFilter {
  if (values.length > keys.length) throw errors.tagValuesWithoutKeys(keys.length, values.length);
  checkCount("tag_key", keys.length, limits.maxTags);
  return keys.map((key, index) => {
    const value = values[index] ?? "";
    checkBytes(`tag_key[${index}]`, key, limits.maxTagKeyBytes);
    checkBytes(`tag_value[${index}]`, value, limits.maxTagValueBytes);
    checkNoNul(`tag_key[${index}]`, key);
    checkNoNul(`tag_value[${index}]`, value);
    return [key, value] as const;
  });
}
