import {
  context,
  createContextKey,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type SpanContext,
} from "@opentelemetry/api";
import { tracer } from "./instruments.js";
import { endSpanAfter } from "./span-outcome.js";

/**
 * A task's own trace is the one its CreateTask call started. The store keeps that call's W3C
 * traceparent with the task (TaskRecord.traceContext), so work done on many tasks at once, long
 * after the call (a bulk poll, a bulk release, a batched submit), can still be found from each
 * task's trace:
 * - the bulk backend call's span links to every task it serves (bulkCall, read by
 *   instrumented-backend.ts), and
 * - what the call causes for one task (the state change a poll writes) is a span in that task's own
 *   trace, a child of the stored context, linking back to the bulk call (inTaskTrace).
 * docs/RUNBOOK.md says why child and not a link for the per-task part.
 */

/**
 * Application Insights stores a span's links as one JSON property (_MS.links) cut at 8192
 * characters, about 76 characters a link: past ~107 the JSON is broken and no link shows. A bulk
 * call links to the first 100 tasks; the rest still link back from their own per-task spans.
 */
export const MAX_TASK_LINKS = 100;

/** The traceparent of the span active now, for the store; "" when nothing is traced. */
export function activeTraceparent(): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? "";
}

/** The span context a stored traceparent stands for, sampled or not; undefined when there is none. */
export function storedSpanContext(traceparent: string): SpanContext | undefined {
  if (traceparent === "") return undefined;
  const found = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  return found !== undefined && isSpanContextValid(found) ? found : undefined;
}

/** Only a sampled span exists at the exporter: a link to any other leads nowhere. */
function linkable(spanContext: SpanContext | undefined): spanContext is SpanContext {
  return spanContext !== undefined && isSpanContextValid(spanContext) && (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/** What a bulk backend call links to, and, once its span starts, that span's context. */
export interface BulkCall {
  readonly links: readonly Link[];
  /** Tasks left unlinked past MAX_TASK_LINKS. */
  readonly dropped: number;
  /** Set by the span of the call (instrumented-backend.ts), for the per-task spans to link back. */
  started?: SpanContext;
}

const BULK_CALL = createContextKey("tes.bulk-call");

/**
 * Runs `call` (one backend call on many tasks) so its span links to each task's trace: `contexts`
 * are the tasks' stored traceparents or their job spans' contexts; unsampled and missing ones are
 * left out. `parent` is where the call's own span goes (default: the active context).
 */
export async function bulkCall<T>(
  contexts: ReadonlyArray<SpanContext | string | undefined>,
  call: (bulk: BulkCall) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  const links: Link[] = [];
  let dropped = 0;
  for (const item of contexts) {
    const spanContext = typeof item === "string" ? storedSpanContext(item) : item;
    if (!linkable(spanContext)) continue;
    if (links.length < MAX_TASK_LINKS) links.push({ context: spanContext });
    else dropped++;
  }
  const bulk: BulkCall = { links, dropped };
  return context.with(parent.setValue(BULK_CALL, bulk), () => call(bulk));
}

/**
 * The links for the span of a backend call about to start, and a callback for its context; none
 * outside bulkCall. The span runs in withoutBulkCall's context, so calls made inside it (a backend
 * wrapping another) do not repeat the links.
 */
export function takeBulkCall(): { links: Link[]; attributes: Attributes; started: (span: SpanContext) => void } | undefined {
  const bulk = context.active().getValue(BULK_CALL) as BulkCall | undefined;
  if (bulk === undefined) return undefined;
  return {
    links: [...bulk.links],
    attributes: { "tes.links": bulk.links.length, "tes.links.dropped": bulk.dropped },
    started: (span) => {
      bulk.started = span;
    },
  };
}

/** The context for a span that must not inherit a bulk call's links (a bulk call's own span). */
export function withoutBulkCall(active: Context): Context {
  return active.deleteValue(BULK_CALL);
}

/**
 * Runs `work` in a span of the task's own trace (a child of its stored traceparent; a new trace
 * when it has none, a task stored before traceparents were), linked to the span active now (the poll cycle's) and to the bulk call that
 * caused it, so each side finds the other.
 */
export async function inTaskTrace<T>(
  name: string,
  task: { id: string; traceContext: string },
  caused: BulkCall | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const active = context.active();
  const links: Link[] = [];
  for (const cause of [trace.getSpanContext(active), caused?.started]) {
    if (linkable(cause)) links.push({ context: cause });
  }
  // An unsampled stored context is still the parent: the task's trace was not kept, nor is this.
  const stored = storedSpanContext(task.traceContext);
  const parent = withoutBulkCall(stored === undefined ? trace.deleteSpan(active) : trace.setSpanContext(active, stored));
  return tracer().startActiveSpan(
    name,
    { kind: SpanKind.INTERNAL, links, attributes: { "tes.task_id": task.id } },
    parent,
    (span) => endSpanAfter(span, work),
  );
}

/** Adds to the active span (a job's) a link to the task's own trace, when it is another trace. */
export function linkActiveSpanToTask(traceparent: string): void {
  const stored = storedSpanContext(traceparent);
  const span = trace.getActiveSpan();
  if (!linkable(stored) || span === undefined || span.spanContext().traceId === stored.traceId) return;
  span.addLink({ context: stored, attributes: { "tes.link": "task" } });
}
