import { SpanStatusCode, type Span } from "@opentelemetry/api";

/** Runs `work` as `span`'s operation: a failure is recorded on the span and thrown on; the span ends either way. */
export async function endSpanAfter<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
