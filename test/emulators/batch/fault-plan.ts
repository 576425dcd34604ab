/**
 * Faults waiting to be injected. None of this is Batch surface: tests arm faults through the
 * emulator's `faults` handle (or the CLI's control endpoint) to see how a client copes with the
 * failures the service documents (shared/notes/AZURE-BATCH.md §4, §5, §6).
 */
export interface HttpFault {
  /** Operation name as counted (e.g. "Task_List"); undefined matches every operation. */
  operation?: string;
  /** 429, 500, 503...; undefined with delayMs set only slows the answer down. */
  status?: number;
  /** Default per status: 429 TooManyRequests, 503 ServerBusy, 500 InternalError. */
  code?: string;
  /** Sent as Retry-After (seconds) when set. */
  retryAfterSeconds?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** How many requests it hits; default 1; Infinity until cleared. */
  times?: number;
  /** "before" (default) refuses without doing anything; "after" does the operation and then answers the fault, as a lost response would. */
  when?: "before" | "after";
}

export interface AllocationFault {
  /** Pool id (case-insensitive); undefined hits any pool. */
  poolId?: string;
  /** A resize error code from §5, e.g. AllocationFailed, AllocationTimedout. */
  code: string;
  message?: string;
  times?: number;
}

export interface TaskFault {
  /** Task id prefix (case-insensitive); undefined hits any task. */
  taskIdPrefix?: string;
  /** The failureInfo the run ends with instead of running, e.g. ContainerInvalidImage (§4). */
  code: string;
  category?: "userError" | "serverError";
  message?: string;
  times?: number;
}

export interface AddCollectionFault {
  /** How many tasks (in request order) answer serverError instead of being added. */
  tasks: number;
  times?: number;
}

interface Armed<T> {
  fault: T;
  left: number;
}

function take<T>(list: Armed<T>[], matches: (fault: T) => boolean): T | undefined {
  const index = list.findIndex((armed) => matches(armed.fault));
  if (index < 0) return undefined;
  const armed = list[index] as Armed<T>;
  armed.left -= 1;
  if (armed.left <= 0) list.splice(index, 1);
  return armed.fault;
}

export class FaultPlan {
  private readonly http: Armed<HttpFault>[] = [];
  private readonly allocation: Armed<AllocationFault>[] = [];
  private readonly task: Armed<TaskFault>[] = [];
  private readonly addCollection: Armed<AddCollectionFault>[] = [];

  addHttp(fault: HttpFault): void {
    if (fault.status === undefined && fault.delayMs === undefined) throw new Error("an HTTP fault needs a status or a delayMs");
    this.http.push({ fault, left: fault.times ?? 1 });
  }
  addAllocation(fault: AllocationFault): void {
    this.allocation.push({ fault, left: fault.times ?? 1 });
  }
  addTask(fault: TaskFault): void {
    this.task.push({ fault, left: fault.times ?? 1 });
  }
  addAddCollection(fault: AddCollectionFault): void {
    this.addCollection.push({ fault, left: fault.times ?? 1 });
  }

  takeHttp(operation: string): HttpFault | undefined {
    return take(this.http, (f) => f.operation === undefined || f.operation === operation);
  }
  takeAllocation(poolId: string): AllocationFault | undefined {
    return take(this.allocation, (f) => f.poolId === undefined || f.poolId.toLowerCase() === poolId.toLowerCase());
  }
  takeTask(taskId: string): TaskFault | undefined {
    return take(this.task, (f) => f.taskIdPrefix === undefined || taskId.toLowerCase().startsWith(f.taskIdPrefix.toLowerCase()));
  }
  takeAddCollection(): AddCollectionFault | undefined {
    return take(this.addCollection, () => true);
  }

  clear(): void {
    this.http.length = 0;
    this.allocation.length = 0;
    this.task.length = 0;
    this.addCollection.length = 0;
  }
}
