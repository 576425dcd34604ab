import type { HandlerContext } from "@connectrpc/connect";
import { callerKey, type Caller } from "../auth/caller.js";

/** The caller the authentication interceptor recorded (the standalone caller when none ran). */
export function callerOf(context: HandlerContext): Caller {
  return context.values.get(callerKey);
}
