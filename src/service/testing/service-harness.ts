import { Writable } from "node:stream";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type CallOptions, type Client, type Interceptor } from "@connectrpc/connect";
import { pino } from "pino";
import { callerKey } from "../../auth/caller.js";
import { loadLimitsConfig, type LimitsConfig } from "../../config/limits.js";
import { loadServiceInfoConfig, type ServiceInfoConfig } from "../../config/service-info.js";
import { ExecutorSchema, TaskSchema, TaskService, View, type Task } from "../../gen/ga4gh/tes/v1/tes_pb.js";
import { SqliteTaskStore } from "../../store/sqlite/sqlite-task-store.js";
import { ALL, ownedBy, type TaskStore } from "../../store/task-store.js";
import type { BackendCapabilities } from "../../../worker/backends/compute-backend.js";
import { createTaskService } from "../task-service.js";
import { RecordingQueue } from "./recording-queue.js";

/** The header the harness's stand-in for authentication reads: which owner the call comes from. */
const OWNER_HEADER = "x-test-owner";

export const TEST_BACKEND: BackendCapabilities = {
  name: "test",
  backendParameters: ["VmSize", "DockerOptions"],
  storage: ["file:///srv/tes", "https://account.blob.core.windows.net/data"],
};

export interface HarnessOptions {
  limits?: Partial<LimitsConfig>;
  serviceInfo?: ServiceInfoConfig;
  backend?: BackendCapabilities;
  /** Wraps the real store, to inject races or failures. */
  wrapStore?: (store: TaskStore) => TaskStore;
  clock?: () => Date;
  admit?: (task: Task) => Promise<readonly string[]>;
}

export interface Harness {
  /** A Connect client calling the service through a real in-process router. */
  client: Client<typeof TaskService>;
  /** The real store the service writes to (SQLite, in memory). */
  store: SqliteTaskStore;
  queue: RecordingQueue;
  /** Every line the service logged, parsed. */
  logLines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * The service as a client sees it: a Connect router in process, the SQLite store, a recording
 * queue. Calls carry the caller's owner in a header that a small interceptor turns into the
 * callerKey context value, as the real authentication interceptor does; no header is the
 * standalone caller, who sees everything.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const store = new SqliteTaskStore({ path: ":memory:", busyTimeoutInMs: 1000 });
  await store.migrate();
  const queue = new RecordingQueue();
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") logLines.push(JSON.parse(line));
      done();
    },
  });
  const service = createTaskService({
    store: options.wrapStore ? options.wrapStore(store) : store,
    queue,
    backend: options.backend ?? TEST_BACKEND,
    serviceInfo: options.serviceInfo ?? loadServiceInfoConfig({}),
    limits: { ...loadLimitsConfig({}), ...options.limits },
    logger: pino({ level: "warn" }, sink),
    ...(options.clock && { clock: options.clock }),
    // Passed through even when undefined, as src/app.ts does for a backend without objections.
    admit: options.admit,
  });
  const authenticate: Interceptor = (next) => (request) => {
    const owner = request.header.get(OWNER_HEADER);
    if (owner !== null) request.contextValues.set(callerKey, { owner, scope: ownedBy(owner) });
    return next(request);
  };
  const transport = createRouterTransport(({ service: register }) => register(TaskService, service), {
    router: { interceptors: [authenticate] },
  });
  return {
    client: createClient(TaskService, transport),
    store,
    queue,
    logLines,
    close: () => store.close(),
  };
}

/** Call options that make the call as `owner`. */
export function as(owner: string): CallOptions {
  return { headers: { [OWNER_HEADER]: owner } };
}

/** The smallest valid task, with overrides. */
export function validTask(overrides: MessageInitShape<typeof TaskSchema> = {}) {
  return create(TaskSchema, {
    executors: [create(ExecutorSchema, { image: "alpine", command: ["echo", "hello"] })],
    ...overrides,
  });
}

/** How many tasks the store holds, in every scope. */
export async function storedCount(store: TaskStore): Promise<number> {
  let count = 0;
  let pageToken: string | undefined;
  do {
    const page = await store.list({ pageSize: 2047, view: View.MINIMAL, ...(pageToken && { pageToken }) }, ALL);
    count += page.tasks.length;
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return count;
}
