import { context, propagation, SpanKind, type Context } from "@opentelemetry/api";
import { tracer } from "./instruments.js";
import { endSpanAfter } from "./span-outcome.js";

/** W3C trace context headers (traceparent, tracestate) carried in a job's data. */
export type TraceCarrier = Record<string, string>;

/**
 * Runs `enqueue` in a producer span and hands it the carrier to put in the job, so the worker's
 * span continues the API call's trace across Redis.
 */
export async function tracedEnqueue<T>(queue: string, taskId: string | undefined, enqueue: (carrier: TraceCarrier | undefined) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(
    `${queue} publish`,
    { kind: SpanKind.PRODUCER, attributes: { "messaging.system": "bullmq", "messaging.destination.name": queue, ...(taskId ? { "tes.task_id": taskId } : {}) } },
    async (span) => {
      const carrier: TraceCarrier = {};
      propagation.inject(context.active(), carrier);
      // Untraced (no SDK, or not sampled): the job carries the task id only.
      return endSpanAfter(span, () => enqueue(Object.keys(carrier).length > 0 ? carrier : undefined));
    },
  );
}

/** Runs a job in a consumer span that continues the trace in its carrier (none: a new trace). */
export async function tracedJob<T>(queue: string, taskId: string | undefined, carrier: TraceCarrier | undefined, run: () => Promise<T>): Promise<T> {
  const parent: Context = carrier === undefined ? context.active() : propagation.extract(context.active(), carrier);
  return tracer().startActiveSpan(
    `${queue} process`,
    { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "bullmq", "messaging.destination.name": queue, ...(taskId ? { "tes.task_id": taskId } : {}) } },
    parent,
    (span) => endSpanAfter(span, run),
  );
}

