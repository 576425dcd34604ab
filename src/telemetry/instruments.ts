import { metrics, trace, type Counter, type Histogram, type MeterProvider, type Tracer } from "@opentelemetry/api";

/** Every metric the server records, by name (docs/RUNBOOK.md lists them with their attributes). */
export interface Instruments {
  /** tes.requests {rpc, protocol, code} */
  readonly requests: Counter;
  /** tes.request.duration seconds {rpc, protocol, code} */
  readonly requestDuration: Histogram;
  /** tes.task.transitions {from, to}: every state change the worker writes. */
  readonly taskTransitions: Counter;
  /** tes.backend.calls {backend, method, outcome=ok|error} */
  readonly backendCalls: Counter;
  /** tes.backend.call.duration seconds {backend, method} */
  readonly backendCallDuration: Histogram;
  /** tes.jobs {queue, outcome=completed|failed|retried|handed-back}: BullMQ jobs; `retried`: a failed try that will run again; `handed-back`: returned to the queue at a shutdown deadline. */
  readonly jobs: Counter;
  /** tes.filetransfer.output_bytes {state}: bytes of the outputs of ended attempts, as their result reports them. */
  readonly outputBytes: Counter;
  /** tes.filetransfer.input_bytes {state}: bytes of the inputs of ended attempts (content inputs included), as their result reports them. */
  readonly inputBytes: Counter;
  /** tes.filetransfer.failures: ended attempts whose system logs report a failed transfer. */
  readonly transferFailures: Counter;
}

export const TRACER_NAME = "tes";

export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

// Meters cannot be proxied (the metrics API has no proxy provider): instruments are made from the
// global provider in place when they are first used, and again if it changes (tests).
const made = new WeakMap<MeterProvider, Instruments>();

export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  let found = made.get(provider);
  if (found === undefined) {
    const meter = provider.getMeter("tes");
    found = {
      requests: meter.createCounter("tes.requests", { description: "API calls, by procedure, wire protocol and outcome" }),
      requestDuration: meter.createHistogram("tes.request.duration", {
        description: "API call latency",
        unit: "s",
        advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
      }),
      taskTransitions: meter.createCounter("tes.task.transitions", { description: "task state changes written by the worker" }),
      backendCalls: meter.createCounter("tes.backend.calls", { description: "compute backend calls, by method and outcome" }),
      backendCallDuration: meter.createHistogram("tes.backend.call.duration", { description: "compute backend call latency", unit: "s" }),
      jobs: meter.createCounter("tes.jobs", { description: "queue jobs run by the worker pool, by queue and outcome" }),
      outputBytes: meter.createCounter("tes.filetransfer.output_bytes", { description: "bytes of task outputs uploaded", unit: "By" }),
      inputBytes: meter.createCounter("tes.filetransfer.input_bytes", { description: "bytes of task inputs downloaded", unit: "By" }),
      transferFailures: meter.createCounter("tes.filetransfer.failures", { description: "attempts ended by a failed input or output transfer" }),
    };
    made.set(provider, found);
  }
  return found;
}
