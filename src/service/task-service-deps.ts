import type { Logger } from "pino";
import type { Task } from "../gen/ga4gh/tes/v1/tes_pb.js";
import type { LimitsConfig } from "../config/limits.js";
import type { ServiceInfoConfig } from "../config/service-info.js";
import type { TaskQueue } from "../queue/task-queue.js";
import type { TaskStore } from "../store/task-store.js";
import type { BackendCapabilities } from "../../worker/backends/compute-backend.js";

/** What the TES service needs from the rest of the server; the lead composes these at start-up. */
export interface TaskServiceDeps {
  /** The source of truth: every read is scoped to the caller, every insert records its owner. */
  readonly store: TaskStore;
  /** Tells the worker pool about new and cancelled tasks. */
  readonly queue: TaskQueue;
  /** The configured compute backend's name, backend_parameters keys and storage locations. */
  readonly backend: BackendCapabilities;
  /**
   * The backend's own objections to a task before it is stored (the local backend refuses file://
   * URLs outside TES_ALLOWED_DIRS), one sentence per problem naming the field. Default: none.
   */
  readonly admit?: (task: Task) => Promise<readonly string[]>;
  readonly serviceInfo: ServiceInfoConfig;
  readonly limits: LimitsConfig;
  /** Where failures the client does not see (a queue outage, a store error) are reported. */
  readonly logger: Pick<Logger, "warn" | "error">;
  /** The current time; tests pass a fixed clock. Default: the system clock. */
  readonly clock?: () => Date;
  /** New task ids; default UUIDv7. */
  readonly newTaskId?: () => string;
}

/** The deps with their defaults filled in, as the handlers use them. */
export type ResolvedDeps = Required<TaskServiceDeps>;
