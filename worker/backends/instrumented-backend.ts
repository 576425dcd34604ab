import { context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { instruments, tracer } from "../../src/telemetry/instruments.js";
import { takeBulkCall, withoutBulkCall } from "../../src/telemetry/task-trace.js";
import type { AttemptStatus, CallOptions, ComputeBackend, SubmitOutcome } from "./compute-backend.js";

type Method = "submit" | "poll" | "cancel" | "release";

/**
 * A backend whose every call is a client span (in the trace of the job that made it; made inside
 * task-trace.ts's bulkCall, it also links to the trace of each task it serves) and counted
 * in tes.backend.calls and tes.backend.call.duration, by backend, method and outcome. Wraps any
 * ComputeBackend; src/app.ts wraps the one TES_BACKEND names.
 */
export function instrumentBackend(backend: ComputeBackend): ComputeBackend {
  const name = backend.capabilities.name;
  const call = <T>(method: Method, items: number, run: () => Promise<T>, describe?: (result: T) => Record<string, number>): Promise<T> => {
    const bulk = takeBulkCall();
    return tracer().startActiveSpan(
      `backend ${method}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { "tes.backend": name, "tes.backend.items": items, ...bulk?.attributes },
        ...(bulk === undefined ? {} : { links: bulk.links }),
      },
      withoutBulkCall(context.active()),
      async (span) => {
        bulk?.started(span.spanContext());
        const started = performance.now();
        let outcome = "ok";
        try {
          const result = await run();
          if (describe !== undefined) span.setAttributes(describe(result));
          return result;
        } catch (error) {
          outcome = "error";
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
          const meters = instruments();
          meters.backendCalls.add(1, { backend: name, method, outcome });
          meters.backendCallDuration.record((performance.now() - started) / 1000, { backend: name, method });
        }
      },
    );
  };
  return {
    capabilities: backend.capabilities,
    submit: (attempts, options?: CallOptions) =>
      call("submit", attempts.length, () => backend.submit(attempts, options), (outcomes: SubmitOutcome[]) => ({
        "tes.backend.submitted": outcomes.filter((o) => o.kind === "submitted").length,
        "tes.backend.blocked": outcomes.filter((o) => o.kind === "blocked").length,
        "tes.backend.rejected": outcomes.filter((o) => o.kind === "rejected").length,
      })),
    poll: (handles, options?: CallOptions) =>
      call("poll", handles.length, () => backend.poll(handles, options), (statuses: AttemptStatus[]) => ({
        "tes.backend.ended": statuses.filter((s) => s.phase === "ended").length,
      })),
    cancel: (handles, options?: CallOptions) => call("cancel", handles.length, () => backend.cancel(handles, options)),
    release: (handles, options?: CallOptions) => call("release", handles.length, () => backend.release(handles, options)),
    close: () => backend.close(),
  };
}
