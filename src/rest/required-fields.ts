import { getOption, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FieldBehavior, field_behavior } from "../gen/google/api/field_behavior_pb.js";

/** Whether a field is marked `(google.api.field_behavior) = REQUIRED` in the proto. */
export function isRequiredField(field: DescField): boolean {
  return getOption(field, field_behavior).includes(FieldBehavior.REQUIRED);
}

/**
 * Per message: the REQUIRED fields, and the message-typed fields to descend into because some
 * message below them has REQUIRED fields. Computed once per message type.
 */
export interface RequiredPlan {
  readonly required: readonly DescField[];
  readonly descend: readonly DescField[];
}

const plans = new WeakMap<DescMessage, RequiredPlan>();

export function requiredPlan(message: DescMessage): RequiredPlan {
  const cached = plans.get(message);
  if (cached !== undefined) return cached;
  // Placeholder first, so recursive message types terminate.
  const plan: { required: DescField[]; descend: DescField[] } = { required: [], descend: [] };
  plans.set(message, plan);
  for (const field of message.fields) {
    if (isRequiredField(field)) plan.required.push(field);
    const child = messageOf(field);
    if (child !== undefined && hasRequiredBelow(child, new Set())) plan.descend.push(field);
  }
  return plan;
}

/** The message type a field holds (singular, list element or map value), if any. */
export function messageOf(field: DescField): DescMessage | undefined {
  switch (field.fieldKind) {
    case "message":
      return field.message;
    case "list":
      return field.listKind === "message" ? field.message : undefined;
    case "map":
      return field.mapKind === "message" ? field.message : undefined;
    default:
      return undefined;
  }
}

function hasRequiredBelow(message: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(message)) return false;
  seen.add(message);
  return message.fields.some((field) => {
    if (isRequiredField(field)) return true;
    const child = messageOf(field);
    return child !== undefined && hasRequiredBelow(child, seen);
  });
}
