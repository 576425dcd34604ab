import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import { pino } from "pino";
import { loadLimitsConfig } from "../../src/config/limits.js";
import { loadServerConfig, type ServerConfig } from "../../src/config/server.js";
import { loadServiceInfoConfig } from "../../src/config/service-info.js";
import type { Env } from "../../src/config/env-reader.js";
import type { TaskService } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { createTesServer, type TesServer } from "../../src/server/tes-server.js";
import type { ServiceBinding } from "../../src/server/service-binding.js";
import { createTaskService } from "../../src/service/task-service.js";
import type { TaskQueue } from "../../src/queue/task-queue.js";
import { RecordingQueue } from "../../src/service/testing/recording-queue.js";
import { SqliteTaskStore } from "../../src/store/sqlite/sqlite-task-store.js";
import type { BackendCapabilities } from "../../worker/backends/compute-backend.js";

export const TEST_BACKEND: BackendCapabilities = {
  name: "test",
  backendParameters: ["VmSize"],
  storage: ["file:///srv/tes"],
};

export interface TestServerOptions {
  /** Server settings as environment variables (PORT and HOST default to 0 and 127.0.0.1). */
  env?: Env;
  interceptors?: Interceptor[];
  extraServices?: ServiceBinding[];
  /** Replaces the real TaskService (the SQLite-backed one) for tests of edge behaviour. */
  taskService?: ServiceImpl<typeof TaskService>;
  /** The SQLite file; default in memory. */
  sqlitePath?: string;
  /** The queue the TaskService enqueues to; default a RecordingQueue (then `queue` below records). */
  taskQueue?: TaskQueue;
}

export interface TestServer {
  readonly server: TesServer;
  readonly config: ServerConfig;
  readonly port: number;
  /** http://127.0.0.1:PORT (https:// with TLS). */
  readonly baseUrl: string;
  readonly store: SqliteTaskStore;
  readonly queue: RecordingQueue;
  /** Errors the server hid from clients. */
  readonly hiddenErrors: unknown[];
  close(): Promise<void>;
}

/** The API on a loopback port with the real TaskService over an SQLite store and a recording queue. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const config = loadServerConfig({ PORT: "0", HOST: "127.0.0.1", ...options.env });
  const store = new SqliteTaskStore({ path: options.sqlitePath ?? ":memory:", busyTimeoutInMs: 5000 });
  await store.migrate();
  const queue = new RecordingQueue();
  const taskService =
    options.taskService ??
    createTaskService({
      store,
      queue: options.taskQueue ?? queue,
      backend: TEST_BACKEND,
      serviceInfo: loadServiceInfoConfig({}),
      limits: loadLimitsConfig({}),
      logger: pino({ level: "silent" }),
    });
  const hiddenErrors: unknown[] = [];
  const server = createTesServer({
    config,
    taskService,
    extraServices: options.extraServices ?? [],
    interceptors: options.interceptors ?? [],
    onInternalError: (error) => hiddenErrors.push(error),
  });
  const address = await server.listen();
  const scheme = config.tls === undefined ? "http" : "https";
  return {
    server,
    config,
    port: address.port,
    baseUrl: `${scheme}://127.0.0.1:${address.port}`,
    store,
    queue,
    hiddenErrors,
    async close() {
      await server.close();
      await store.close();
    },
  };
}
