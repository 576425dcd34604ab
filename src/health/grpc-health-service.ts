import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  type HealthCheckResponse,
  type HealthCheckRequest,
} from "../gen/grpc/health/v1/health_pb.js";
import type { Readiness } from "./readiness.js";

export interface GrpcHealthOptions {
  readonly readiness: Readiness;
  /** Fully-qualified names of the services this server answers ("" is added: the server as a whole). */
  readonly services: readonly string[];
  /** HEALTH_WATCH_INTERVAL_MS: how often a Watch stream re-checks the dependencies. */
  readonly watchIntervalMs: number;
}

/**
 * grpc.health.v1.Health. Every service shares the server's readiness: SERVING when the store and
 * Redis answer and shutdown has not begun, NOT_SERVING otherwise. Watch answers at once, then on
 * every change; when shutdown begins it sends NOT_SERVING and ends, so a drain is not held up by
 * watchers.
 */
export function createGrpcHealthService(options: GrpcHealthOptions): ServiceImpl<typeof Health> {
  const known = new Set(["", ...options.services]);
  const status = async (): Promise<ServingStatus> =>
    (await options.readiness.check()).ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  const reply = (value: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status: value });

  return {
    async check(request: HealthCheckRequest) {
      if (!known.has(request.service)) throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      return reply(await status());
    },
    async list() {
      const now = await status();
      return { statuses: Object.fromEntries([...known].map((name) => [name, reply(now)])) };
    },
    async *watch(request: HealthCheckRequest, context: HandlerContext) {
      if (!known.has(request.service)) {
        // As the protocol says: SERVICE_UNKNOWN, and keep the stream open in case it appears.
        yield reply(ServingStatus.SERVICE_UNKNOWN);
        await stopped(context.signal, options.readiness);
        return;
      }
      const end = stopped(context.signal, options.readiness);
      let last: ServingStatus | undefined;
      for (;;) {
        const now = await status();
        if (now !== last) yield reply(now);
        last = now;
        if (options.readiness.draining || context.signal.aborted) return;
        await Promise.race([sleep(options.watchIntervalMs, context.signal), end]);
      }
    },
  };
}

/** Resolves when the call ends or shutdown begins. */
function stopped(signal: AbortSignal, readiness: Readiness): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || readiness.draining) return resolve();
    const done = (): void => {
      signal.removeEventListener("abort", done);
      unsubscribe();
      resolve();
    };
    const unsubscribe = readiness.onDraining(done);
    signal.addEventListener("abort", done, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
