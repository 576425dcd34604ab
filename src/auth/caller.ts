import { createContextKey } from "@connectrpc/connect";
import { ALL, type Scope } from "../store/task-store.js";

/**
 * Who is calling, as the authentication interceptor established it. Every protocol's requests pass
 * through that interceptor, which sets this value; handlers read it from the context and hand the
 * owner and scope to the store. The default is the standalone user: no owner, sees everything.
 */
export interface Caller {
  /** Recorded on the tasks this caller creates: "" standalone, else a tenant or user id. */
  readonly owner: string;
  /** What this caller may read and cancel. */
  readonly scope: Scope;
}

export const STANDALONE_CALLER: Caller = { owner: "", scope: ALL };

export const callerKey = createContextKey<Caller>(STANDALONE_CALLER, { description: "the authenticated caller" });
