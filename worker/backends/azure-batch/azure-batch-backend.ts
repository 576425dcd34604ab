import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import { parseResultDocument } from "../../runner/result-document.js";
import type { Attempt, AttemptResult, AttemptStatus, BackendCapabilities, CallOptions, ComputeBackend, SubmitOutcome } from "../compute-backend.js";
import type { ArmPools } from "./arm-pools.js";
import { BatchCallError, BatchCallGate, codeOf, statusOf } from "./batch-call-gate.js";
import { jobAddParameter, poolAddParameter, poolPlan, registriesForTask, RESULT_FILE, taskAddParameter, type PoolPlan } from "./batch-specs.js";
import { registryLoginsFor, withRegistryLogins, type TaskDocuments } from "./task-documents.js";
import { chooseVmSize } from "./vm-size-catalog.js";

/**
 * The Azure Batch compute backend: attempts become Batch tasks in shared, autoscaling pools (one
 * job per pool), submitted through AddCollection (≤ 100 per call) and followed with one `$select`-ed
 * Task List per job per poll, never one call per task (shared/DESIGN.md "Azure Batch mapping").
 * A handle is "<jobId>/<taskId>".
 */
export const BACKEND_PARAMETERS = ["vm_size"] as const;
/** §3: AddCollection takes ≤ 100 tasks and < 1 MB. */
const MAX_TASKS_PER_COLLECTION = 100;
const MAX_COLLECTION_BYTES = 900 * 1024;
const TASK_SELECT = "id,state,stateTransitionTime,previousState,creationTime,executionInfo,nodeInfo";
/**
 * After a first full list, a job's tasks are listed incrementally: only those whose state changed
 * since the newest transition already seen, less this margin for transitions that become visible
 * late. The watermark comes from Batch's own timestamps, so clock skew does not matter.
 */
const WATERMARK_MARGIN_MS = 5000;
/** How long a pool's resize errors, read to explain a queued task, are reused. */
const POOL_REASON_TTL_MS = 5000;
/** A full list now and then repairs anything an incremental one missed. */
const FULL_LIST_EVERY_MS = 5 * 60_000;

interface JobView {
  tasks: Map<string, BatchServiceModels.CloudTask>;
  watermark: number | undefined;
  fullListAt: number;
  listedAt: number;
}

interface Handle {
  jobId: string;
  taskId: string;
}

function parseHandle(handle: string): Handle | undefined {
  const slash = handle.indexOf("/");
  if (slash <= 0 || slash === handle.length - 1) return undefined;
  return { jobId: handle.slice(0, slash), taskId: handle.slice(slash + 1) };
}

const lower = (value: string | undefined) => (value ?? "").toLowerCase();

/** Why a pool cannot take tasks yet (blocked: quota, the task waits) or at all (rejected: Batch refused it). */
type PoolProblem = { kind: "blocked"; reason: string } | { kind: "rejected"; reason: string };

export class AzureBatchBackend implements ComputeBackend {
  readonly capabilities: BackendCapabilities = {
    name: "azure-batch",
    backendParameters: [...BACKEND_PARAMETERS],
    storage: ["https://*.blob.core.windows.net/", "http://", "https://"],
  };
  private readonly gate: BatchCallGate;
  private readonly armPools: ArmPools | undefined;
  /** Pools (and their jobs) this process has seen exist. */
  private readonly readyPools = new Set<string>();
  private readonly creatingPools = new Map<string, Promise<PoolProblem | undefined>>();
  /** Results read back, kept until release. */
  private readonly results = new Map<string, AttemptResult>();
  /** Handles this process cancelled: their end is "canceled" whatever the node managed to write. */
  private readonly cancelled = new Set<string>();
  /** Preempted handles already terminated, so Batch does not rerun them beside the new attempt. */
  private readonly preemptionHandled = new Set<string>();
  /** The first start time seen for each running attempt, to notice a rerun between polls. */
  private readonly firstStart = new Map<string, number>();
  /** What the last lists said about each job's tasks. */
  private readonly views = new Map<string, JobView>();
  /** Lists in flight, shared by the poll calls of one cycle (the worker polls in batches of handles). */
  private readonly listing = new Map<string, Promise<Map<string, BatchServiceModels.CloudTask> | undefined>>();
  /**
   * What each handle was added with and when its document URLs were signed (this process's clock),
   * to add it again with renewed URLs (document renewal below).
   */
  private readonly bodies = new Map<string, { body: BatchServiceModels.TaskAddParameter; signedAt: number }>();
  /** Renewals in flight, by handle. */
  private readonly renewing = new Map<string, Promise<void>>();
  /** The clock document renewal is decided by (tests move it; Batch's own times are compared with it). */
  private readonly now: () => number;

  constructor(
    private readonly client: BatchServiceClient,
    private readonly config: AzureBatchConfig,
    /** Where task documents go; undefined only with AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT. */
    private readonly documents?: TaskDocuments,
    options: {
      now?: () => number;
      /** Pool creation through ARM (AZURE_BATCH_SUBSCRIPTION_ID, ...): pools then get their identities; else Pool Add on the data plane. */
      armPools?: ArmPools;
    } = {},
  ) {
    this.gate = new BatchCallGate({ maxConcurrent: config.maxConcurrentCalls, maxRetries: config.maxRetries, maxRetryDelayMs: config.maxRetryDelayMs });
    this.armPools = options.armPools;
    this.now = options.now ?? Date.now;
  }

  /** Calls retried by status (data plane and ARM together), for logs and the benchmark. */
  get retries(): ReadonlyMap<string, number> {
    if (this.armPools === undefined) return this.gate.retries;
    const all = new Map(this.gate.retries);
    for (const [status, count] of this.armPools.retries) all.set(status, (all.get(status) ?? 0) + count);
    return all;
  }

  // ---------------------------------------------------------------- submit

  async submit(attempts: readonly Attempt[], _options?: CallOptions): Promise<SubmitOutcome[]> {
    const outcomes: (SubmitOutcome | undefined)[] = attempts.map(() => undefined);
    const byPool = new Map<string, { plan: PoolPlan; items: { index: number; attempt: Attempt }[] }>();
    attempts.forEach((attempt, index) => {
      const resources = attempt.task.resources;
      const params = resources?.backendParameters ?? {};
      const requested = Object.entries(params).find(([key]) => key.toLowerCase() === "vm_size")?.[1];
      const lowPriority = resources?.preemptible === true;
      const choice = chooseVmSize(
        this.config.vmSizes,
        { cpuCores: resources?.cpuCores || 1, ramGb: resources?.ramGb || 0, diskGb: resources?.diskGb || 0, lowPriority },
        requested,
      );
      if (!choice.ok) {
        outcomes[index] = { kind: "rejected", reason: choice.reason };
        return;
      }
      const registries = registriesForTask(this.config, attempt.task.executors.map((executor) => executor.image));
      const plan = poolPlan(this.config, choice.size, lowPriority, registries);
      const group = byPool.get(plan.id) ?? { plan, items: [] };
      group.items.push({ index, attempt });
      byPool.set(plan.id, group);
    });
    await Promise.all(
      [...byPool.values()].map(async ({ plan, items }) => {
        const problem = await this.ensurePool(plan);
        if (problem !== undefined) {
          for (const { index } of items) outcomes[index] = problem;
          return;
        }
        await this.addTasks(plan, items, outcomes);
      }),
    );
    return outcomes.map((outcome) => outcome ?? { kind: "blocked", reason: "the submission did not complete; it will be tried again" });
  }

  /**
   * Creates the pool and its job when missing; answers why not when quota blocks them (the task
   * waits) or Batch refuses them as invalid (a 400: the settings are wrong, the attempt is rejected).
   */
  private async ensurePool(plan: PoolPlan): Promise<PoolProblem | undefined> {
    if (this.readyPools.has(plan.id)) return undefined;
    // Concurrent submits for one pool share a single creation.
    let creating = this.creatingPools.get(plan.id);
    if (creating === undefined) {
      creating = this.createPool(plan).finally(() => this.creatingPools.delete(plan.id));
      this.creatingPools.set(plan.id, creating);
    }
    return creating;
  }

  private async createPool(plan: PoolPlan): Promise<PoolProblem | undefined> {
    const blocked = (reason: string): PoolProblem => ({ kind: "blocked", reason });
    // The gate's errors carry Batch's status, code and first message line, never the request (a pool body may hold registry passwords).
    const refused = (what: string, err: unknown): PoolProblem => {
      const details = err instanceof BatchCallError ? err.details.map((d) => `${d.key}: ${d.value}`).join("; ") : "";
      return { kind: "rejected", reason: `Azure Batch refused ${what}: ${(err as Error).message}${details === "" ? "" : ` (${details})`}` };
    };
    try {
      if (this.armPools !== undefined) await this.armPools.create(plan);
      else await this.gate.call(() => this.client.pool.add(poolAddParameter(this.config, plan)));
    } catch (err) {
      if (codeOf(err) === "PoolQuotaReached") return blocked(`the Batch account's pool quota is reached; a ${plan.vmSize.name} pool cannot be created yet`);
      if (codeOf(err) === "PoolBeingDeleted") return blocked(`the idle pool ${plan.id} is being deleted; the task waits for it to go and will be submitted again`);
      if (statusOf(err) === 400) return refused(`the pool ${plan.id}`, err);
      if (codeOf(err) !== "PoolExists") throw err;
    }
    try {
      await this.gate.call(() => this.client.job.add(jobAddParameter(plan)));
    } catch (err) {
      if (codeOf(err) === "ActiveJobAndScheduleQuotaReached") return blocked("the Batch account's active job quota is reached; the task waits for a free job slot");
      if (statusOf(err) === 400) return refused(`the job ${plan.id}`, err);
      if (codeOf(err) !== "JobExists") throw err;
    }
    this.readyPools.add(plan.id);
    return undefined;
  }

  private async addTasks(plan: PoolPlan, items: { index: number; attempt: Attempt }[], outcomes: (SubmitOutcome | undefined)[]): Promise<void> {
    // Same attempt twice in one call: the later one waits for the first's answer.
    const seen = new Map<string, number>();
    const firsts: { index: number; attempt: Attempt }[] = [];
    const duplicates: { index: number; of: number }[] = [];
    for (const item of items) {
      const first = seen.get(item.attempt.attemptId);
      if (first !== undefined) {
        duplicates.push({ index: item.index, of: first });
        continue;
      }
      seen.set(item.attempt.attemptId, item.index);
      firsts.push(item);
    }
    const signedAt = this.now();
    const urls = await this.storeDocuments(firsts.map((item) => item.attempt));
    const unique: { index: number; attempt: Attempt; body: BatchServiceModels.TaskAddParameter; bytes: number }[] = [];
    firsts.forEach((item, i) => {
      const stored = urls[i];
      if (stored !== undefined && "reason" in stored) {
        outcomes[item.index] = { kind: "blocked", reason: stored.reason };
        return;
      }
      const plain = taskAddParameter(this.config, item.attempt, stored?.task);
      const body = stored?.registryLogins === undefined ? plain : withRegistryLogins(plain, stored.registryLogins);
      unique.push({ ...item, body, bytes: Buffer.byteLength(JSON.stringify(body)) });
    });
    const chunks: (typeof unique)[] = [];
    let current: typeof unique = [];
    let bytes = 0;
    for (const item of unique) {
      if (current.length === MAX_TASKS_PER_COLLECTION || (current.length > 0 && bytes + item.bytes > MAX_COLLECTION_BYTES)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += item.bytes;
    }
    if (current.length > 0) chunks.push(current);
    await Promise.all(chunks.map((chunk) => this.addChunk(plan, chunk, outcomes, signedAt)));
    for (const { index, of } of duplicates) outcomes[index] = outcomes[of];
  }

  /**
   * Uploads the attempts' task documents (and registry logins documents, for executor images from
   * configured registries), at most 16 attempts at once; answers each one's URLs, or why they could
   * not be stored (status and code only: a storage error could quote a URL).
   */
  private async storeDocuments(attempts: readonly Attempt[]): Promise<({ task: string; registryLogins?: string } | { reason: string } | undefined)[]> {
    const documents = this.documents;
    if (documents === undefined) return attempts.map(() => undefined);
    const answers: ({ task: string; registryLogins?: string } | { reason: string })[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < attempts.length; i = next++) {
        const attempt = attempts[i] as Attempt;
        try {
          const registries = registryLoginsFor(this.config, attempt);
          const [task, registryLogins] = await Promise.all([
            documents.put(attempt),
            registries.length === 0 ? undefined : documents.putRegistryLogins(attempt, registries),
          ]);
          answers[i] = registryLogins === undefined ? { task } : { task, registryLogins };
        } catch (err) {
          const status = statusOf(err);
          const code = codeOf(err);
          answers[i] = { reason: `the task document could not be stored in blob storage (${[status, code].filter((x) => x !== undefined).join(" ") || "no answer"}); it will be tried again` };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, attempts.length) }, worker));
    return answers;
  }

  private async addChunk(
    plan: PoolPlan,
    chunk: { index: number; attempt: Attempt; body: BatchServiceModels.TaskAddParameter }[],
    outcomes: (SubmitOutcome | undefined)[],
    signedAt: number,
  ): Promise<void> {
    let pending = chunk;
    for (let round = 0; pending.length > 0 && round <= this.config.maxRetries; round += 1) {
      let answer: BatchServiceModels.TaskAddCollectionResult;
      try {
        answer = await this.gate.call(() => this.client.task.addCollection(plan.id, pending.map((item) => item.body)));
      } catch (err) {
        if (codeOf(err) === "JobNotFound") {
          // The job went away (deleted as idle): make it again, then resend the same ids.
          this.readyPools.delete(plan.id);
          const problem = await this.ensurePool(plan);
          if (problem !== undefined) {
            for (const { index } of pending) outcomes[index] = problem;
            return;
          }
          continue;
        }
        throw err;
      }
      const byId = new Map((answer.value ?? []).map((result) => [lower(result.taskId), result]));
      const retry: typeof pending = [];
      for (const item of pending) {
        const result = byId.get(lower(item.body.id));
        const handle = `${plan.id}/${item.body.id}`;
        // Status casing differs between the 10.2.0 typings and the wire (§2 "Enum casing").
        if (result === undefined || lower(result.status) === "servererror") {
          retry.push(item);
        } else if (lower(result.status) === "success" || result.error?.code === "TaskExists") {
          // §3: a resend after a lost answer reports TaskExists for tasks already added.
          outcomes[item.index] = { kind: "submitted", handle };
          if (this.documents !== undefined) this.bodies.set(handle, { body: item.body, signedAt });
        } else {
          const message = result.error?.message?.value?.split("\n")[0] ?? "refused";
          outcomes[item.index] = { kind: "rejected", reason: `Azure Batch refused the task: ${result.error?.code ?? "clientError"}: ${message}` };
        }
      }
      pending = retry;
    }
  }

  // ---------------------------------------------------------------- poll

  async poll(handles: readonly string[], _options?: CallOptions): Promise<AttemptStatus[]> {
    this.maybeSweepIdlePools();
    const statuses: (AttemptStatus | undefined)[] = handles.map(() => undefined);
    const byJob = new Map<string, { index: number; handle: string; taskId: string }[]>();
    handles.forEach((handle, index) => {
      const cached = this.results.get(handle);
      if (cached !== undefined) {
        statuses[index] = { phase: "ended", result: cached };
        return;
      }
      const parsed = parseHandle(handle);
      if (parsed === undefined) {
        statuses[index] = { phase: "unknown", reason: `"${handle}" is not an Azure Batch handle` };
        return;
      }
      const list = byJob.get(parsed.jobId) ?? [];
      list.push({ index, handle, taskId: parsed.taskId });
      byJob.set(parsed.jobId, list);
    });
    await Promise.all(
      [...byJob.entries()].map(async ([jobId, wanted]) => {
        const tasks = await this.listTasks(jobId, wanted.map((w) => w.taskId));
        if (tasks === undefined) {
          for (const w of wanted) statuses[w.index] = { phase: "unknown", reason: `the Batch job ${jobId} no longer exists` };
          return;
        }
        await this.renewDocuments(jobId, tasks, wanted);
        let poolReason: Promise<string | undefined> | undefined;
        await Promise.all(
          wanted.map(async (w) => {
            const task = tasks.get(lower(w.taskId));
            if (task === undefined) {
              statuses[w.index] = { phase: "unknown", reason: `the Batch task ${w.taskId} no longer exists` };
              return;
            }
            if (lower(task.state) === "active" && !this.cancelled.has(w.handle)) {
              poolReason ??= this.poolBlockReason(jobId);
            }
            statuses[w.index] = await this.statusOf(jobId, w.handle, task, poolReason);
          }),
        );
      }),
    );
    return statuses.map((status) => status ?? { phase: "unknown", reason: "not polled" });
  }

  /**
   * One Task List per job per poll (paged), `$select`-ed to what the states need and, after the
   * first, `$filter`-ed to the tasks whose state changed since the last list.
   */
  private async listTasks(jobId: string, wanted: readonly string[]): Promise<Map<string, BatchServiceModels.CloudTask> | undefined> {
    const inFlight = this.listing.get(jobId);
    if (inFlight !== undefined) {
      const tasks = await inFlight;
      if (tasks === undefined || wanted.every((taskId) => tasks.has(lower(taskId)))) return tasks;
    }
    const fresh = this.views.get(jobId);
    if (fresh !== undefined && Date.now() - fresh.listedAt < this.config.listIntervalMs && wanted.every((taskId) => fresh.tasks.has(lower(taskId)))) {
      return fresh.tasks;
    }
    const listing = this.refreshView(jobId, wanted);
    this.listing.set(jobId, listing);
    try {
      return await listing;
    } finally {
      if (this.listing.get(jobId) === listing) this.listing.delete(jobId);
    }
  }

  private async refreshView(jobId: string, wanted: readonly string[]): Promise<Map<string, BatchServiceModels.CloudTask> | undefined> {
    let view = this.views.get(jobId);
    const full = view === undefined || view.watermark === undefined || Date.now() - view.fullListAt > FULL_LIST_EVERY_MS;
    try {
      if (full || view === undefined) {
        view = { tasks: new Map(), watermark: undefined, fullListAt: Date.now(), listedAt: Date.now() };
        await this.listInto(view, jobId, undefined);
        this.views.set(jobId, view);
        return view.tasks;
      }
      view.listedAt = Date.now();
      const since = new Date((view.watermark ?? 0) - WATERMARK_MARGIN_MS).toISOString();
      await this.listInto(view, jobId, `stateTransitionTime ge DateTime'${since}'`);
      // A handle the view has never seen (added by another worker before our watermark): list it all once.
      if (wanted.some((taskId) => !view!.tasks.has(lower(taskId)))) {
        view.fullListAt = 0;
        view.watermark = undefined;
        return this.refreshView(jobId, []);
      }
      return view.tasks;
    } catch (err) {
      if (codeOf(err) === "JobNotFound" || statusOf(err) === 404) {
        this.views.delete(jobId);
        return undefined;
      }
      throw err;
    }
  }

  private async listInto(view: JobView, jobId: string, filter: string | undefined): Promise<void> {
    let page = await this.gate.call(() =>
      this.client.task.list(jobId, { taskListOptions: { select: TASK_SELECT, ...(filter === undefined ? {} : { filter }) } }),
    );
    for (;;) {
      for (const task of page) {
        view.tasks.set(lower(task.id), task);
        const at = task.stateTransitionTime === undefined ? undefined : new Date(task.stateTransitionTime).getTime();
        if (at !== undefined && (view.watermark === undefined || at > view.watermark)) view.watermark = at;
      }
      const next = page.odatanextLink;
      if (next === undefined) break;
      page = await this.gate.call(() => this.client.task.listNext(next));
    }
  }

  /** Pool resize errors change slowly: one Pool Get per pool per this long, however many polls ask. */
  private readonly poolReasons = new Map<string, { at: number; reason: Promise<string | undefined> }>();

  /** Why an active task is not running: the pool's resize errors (quota, capacity), if any. */
  private poolBlockReason(poolId: string): Promise<string | undefined> {
    const cached = this.poolReasons.get(poolId);
    if (cached !== undefined && Date.now() - cached.at < Math.max(POOL_REASON_TTL_MS, this.config.listIntervalMs)) return cached.reason;
    const reason = this.readPoolBlockReason(poolId);
    this.poolReasons.set(poolId, { at: Date.now(), reason });
    return reason;
  }

  private async readPoolBlockReason(poolId: string): Promise<string | undefined> {
    try {
      const pool = await this.gate.call(() => this.client.pool.get(poolId, { poolGetOptions: { select: "id,allocationState,resizeErrors" } }));
      const errors = pool.resizeErrors ?? [];
      if (errors.length > 0) return `Azure Batch cannot add nodes to pool ${poolId}: ${errors.map((e) => `${e.code}: ${e.message}`).join("; ")}`;
      return await this.readNodeBlockReason(poolId);
    } catch {
      return undefined;
    }
  }

  /**
   * Nodes that cannot take tasks: a failed start task (§4: the tasks just stay active, nothing on
   * the task record says why) or an unusable node. One filtered, `$select`-ed node list.
   */
  private async readNodeBlockReason(poolId: string): Promise<string | undefined> {
    const nodes = await this.gate.call(() =>
      this.client.computeNode.list(poolId, {
        computeNodeListOptions: { filter: "state eq 'starttaskfailed' or state eq 'unusable'", select: "id,state,startTaskInfo,errors", maxResults: 10 },
      }),
    );
    const first = nodes[0];
    if (first === undefined) return undefined;
    const count = nodes.odatanextLink === undefined ? `${nodes.length}` : `${nodes.length} or more`;
    if (lower(first.state) === "starttaskfailed") {
      const info = first.startTaskInfo;
      const why = [info?.failureInfo?.code, info?.exitCode === undefined ? undefined : `exit code ${info.exitCode}`].filter((x) => x !== undefined).join(", ");
      return `the start task failed on ${count} node(s) of pool ${poolId} (${why || "no detail"}); its stderr.txt on node ${first.id} says why`;
    }
    const errors = (first.errors ?? []).map((e) => `${e.code}: ${e.message}`).join("; ");
    return `${count} node(s) of pool ${poolId} are unusable${errors === "" ? "" : `: ${errors}`}`;
  }

  private async statusOf(jobId: string, handle: string, task: BatchServiceModels.CloudTask, poolReason: Promise<string | undefined> | undefined): Promise<AttemptStatus> {
    const state = lower(task.state);
    const execution = task.executionInfo;
    if (state === "active") {
      // We never ask Batch to retry, so a task back in active after it started was requeued by
      // Batch (§4: a preempted node, or a pool shrink): the worker makes a new attempt.
      if (execution?.startTime !== undefined && lower(task.previousState) === "running" && !this.cancelled.has(handle)) {
        await this.stopRequeued(handle, jobId, task.id ?? "");
        return { phase: "preempted", reason: "the Batch node running it was preempted or removed, and Batch requeued the task" };
      }
      const reason = poolReason === undefined ? undefined : await poolReason;
      return reason === undefined ? { phase: "queued" } : { phase: "queued", reason };
    }
    if (state === "preparing") return { phase: "initializing" };
    if (state === "running") {
      // A rerun between two polls shows only as a later start: Batch requeued the task meanwhile.
      const start = execution?.startTime === undefined ? undefined : new Date(execution.startTime).getTime();
      const first = this.firstStart.get(handle);
      if (start !== undefined && first === undefined) this.firstStart.set(handle, start);
      if (start !== undefined && first !== undefined && start > first && !this.cancelled.has(handle)) {
        await this.stopRequeued(handle, jobId, task.id ?? "");
        return { phase: "preempted", reason: "the Batch node running it was preempted or removed, and Batch ran the task again" };
      }
      return { phase: "running" };
    }
    const result = await this.readResult(jobId, handle, task);
    this.results.set(handle, result);
    return { phase: "ended", result };
  }

  private async stopRequeued(handle: string, jobId: string, taskId: string): Promise<void> {
    if (this.preemptionHandled.has(handle)) return;
    this.preemptionHandled.add(handle);
    await this.gate.call(() => this.client.task.terminate(jobId, taskId)).catch(() => undefined);
  }

  /** The runner's result document, or what Batch says when the runner could not write one. */
  private async readResult(jobId: string, handle: string, task: BatchServiceModels.CloudTask): Promise<AttemptResult> {
    const execution = task.executionInfo;
    const failure = execution?.failureInfo;
    const times = {
      ...(execution?.startTime === undefined ? {} : { startTime: new Date(execution.startTime).toISOString() }),
      ...(execution?.endTime === undefined ? {} : { endTime: new Date(execution.endTime).toISOString() }),
    };
    if (this.cancelled.has(handle) || failure?.code === "TaskEnded") {
      if (this.cancelled.has(handle) || lower(failure?.category) === "usererror") {
        return { outcome: "canceled", ...times, executors: [], outputs: [], systemLogs: ["the attempt was cancelled"] };
      }
    }
    let text: string | undefined;
    try {
      const file = await this.gate.call(() => this.client.file.getFromTask(jobId, task.id ?? "", RESULT_FILE));
      const chunks: Buffer[] = [];
      for await (const chunk of file.readableStreamBody ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      text = Buffer.concat(chunks).toString("utf8");
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
    }
    if (text !== undefined) {
      try {
        return parseResultDocument(text);
      } catch (err) {
        return { outcome: "system_error", ...times, executors: [], outputs: [], systemLogs: [`the node's result document is unreadable: ${(err as Error).message}`] };
      }
    }
    const why =
      failure !== undefined
        ? `Azure Batch ended the task: ${failure.code ?? "unknown"}: ${failure.message ?? ""}`.trim()
        : `the node-side runner exited with code ${execution?.exitCode ?? "unknown"} without writing a result`;
    return { outcome: "system_error", ...times, executors: [], outputs: [], systemLogs: [why] };
  }

  // ---------------------------------------------------------------- document renewal

  /**
   * Tasks still waiting for a node when their documents' read SAS nears its end are added again
   * with fresh URLs, under the same id (the same attempt and handle: no new entry in the task's
   * logs). Batch cannot change a task's resource files, and a node that picks a task up after the
   * SAS expired fails its download (BlobAccessDenied, a system error). Found in the poll's own
   * Task List: a never-started `active` task whose URLs were signed longer ago than the TTL less a
   * margin (the later of when this process signed them and Batch's creationTime of the task); costs one Task Delete per such task and one AddCollection per 100 of them, plus
   * a Task Get when this process did not add the task itself (another worker, or before a restart).
   * A task a node takes in the moment between the list and the delete is stopped and runs again
   * from the start: nothing of it has reached the outputs yet, since its first executor has barely begun.
   */
  private async renewDocuments(jobId: string, tasks: Map<string, BatchServiceModels.CloudTask>, wanted: readonly { handle: string; taskId: string }[]): Promise<void> {
    const documents = this.documents;
    if (documents === undefined) return;
    const ttlMs = this.config.taskDocuments?.sasTtlSeconds === undefined ? undefined : this.config.taskDocuments.sasTtlSeconds * 1000;
    if (ttlMs === undefined) return;
    // Ahead of the expiry by a quarter of the TTL, at most 30 minutes: a few poll cycles and a scheduling delay.
    const renewAt = ttlMs - Math.min(ttlMs / 4, 30 * 60_000);
    const due = wanted.filter(({ handle, taskId }) => {
      const task = tasks.get(lower(taskId));
      if (task === undefined || lower(task.state) !== "active" || task.executionInfo?.startTime !== undefined) return false;
      if (this.cancelled.has(handle) || this.renewing.has(handle)) return false;
      // The later of our signing time and Batch's creation time: another worker may have renewed it since.
      const created = task.creationTime === undefined ? undefined : new Date(task.creationTime).getTime();
      const signed = this.bodies.get(handle)?.signedAt;
      const signedAt = signed === undefined ? created : created === undefined ? signed : Math.max(signed, created);
      return signedAt !== undefined && this.now() - signedAt >= renewAt;
    });
    if (due.length === 0) return;
    const renewal = this.renewGroup(jobId, documents, due);
    for (const { handle } of due) this.renewing.set(handle, renewal);
    try {
      await renewal;
    } finally {
      for (const { handle } of due) this.renewing.delete(handle);
    }
  }

  private async renewGroup(jobId: string, documents: TaskDocuments, due: readonly { handle: string; taskId: string }[]): Promise<void> {
    const ready: { handle: string; body: BatchServiceModels.TaskAddParameter; signedAt: number }[] = [];
    await Promise.all(
      due.map(async ({ handle, taskId }) => {
        try {
          const body = this.bodies.get(handle)?.body ?? (await this.bodyFromBatch(jobId, taskId));
          const signedAt = this.now();
          const resourceFiles = await documents.renewedResourceFiles(taskId, body.resourceFiles ?? []);
          // Gone already (404): an earlier renewal deleted it and then failed to add it again.
          await this.gate.call(() => this.client.task.deleteMethod(jobId, taskId)).catch((err: unknown) => {
            if (statusOf(err) !== 404) throw err;
          });
          ready.push({ handle, body: { ...body, resourceFiles }, signedAt });
        } catch {
          // Left as it is: the next poll tries again while the task still waits.
        }
      }),
    );
    for (let start = 0; start < ready.length; start += MAX_TASKS_PER_COLLECTION) {
      const chunk = ready.slice(start, start + MAX_TASKS_PER_COLLECTION);
      let answer: BatchServiceModels.TaskAddCollectionResult | undefined;
      try {
        answer = await this.gate.call(() => this.client.task.addCollection(jobId, chunk.map((item) => item.body)));
      } catch {
        answer = undefined;
      }
      const byId = new Map((answer?.value ?? []).map((result) => [lower(result.taskId), result]));
      for (const { handle, body, signedAt } of chunk) {
        const result = byId.get(lower(body.id));
        if (result === undefined || lower(result.status) !== "success") continue;
        this.bodies.set(handle, { body, signedAt });
      }
    }
  }

  /** The add parameters of a task this process did not add, from Batch: what taskAddParameter sets. */
  private async bodyFromBatch(jobId: string, taskId: string): Promise<BatchServiceModels.TaskAddParameter> {
    const task = await this.gate.call(() =>
      this.client.task.get(jobId, taskId, { taskGetOptions: { select: "id,displayName,commandLine,resourceFiles,environmentSettings,constraints,userIdentity,containerSettings" } }),
    );
    return {
      id: task.id ?? taskId,
      commandLine: task.commandLine ?? "",
      ...(task.displayName === undefined ? {} : { displayName: task.displayName }),
      ...(task.resourceFiles === undefined ? {} : { resourceFiles: task.resourceFiles }),
      ...(task.environmentSettings === undefined ? {} : { environmentSettings: task.environmentSettings }),
      ...(task.constraints === undefined ? {} : { constraints: { maxTaskRetryCount: task.constraints.maxTaskRetryCount ?? 0, ...(task.constraints.retentionTime === undefined ? {} : { retentionTime: task.constraints.retentionTime }) } }),
      ...(task.userIdentity === undefined ? {} : { userIdentity: task.userIdentity }),
      ...(task.containerSettings === undefined ? {} : { containerSettings: task.containerSettings }),
    };
  }

  // ---------------------------------------------------------------- idle pools

  /** When each of our pools was first seen idle (no task at all in its job), by this process. */
  private readonly idleSince = new Map<string, number>();
  private lastSweepAt = Date.now();
  private sweeping: Promise<void> | undefined;

  /** Idle pools are looked for at most every quarter of AZURE_BATCH_POOL_IDLE_MS, beside the polls. */
  private maybeSweepIdlePools(): void {
    const every = Math.max(1000, this.config.poolIdleMs / 4);
    if (this.sweeping !== undefined || Date.now() - this.lastSweepAt < every) return;
    this.lastSweepAt = Date.now();
    this.sweeping = this.sweepIdlePools()
      .then(() => undefined, () => undefined)
      .finally(() => {
        this.sweeping = undefined;
      });
  }

  /**
   * Deletes the job and pool of a pool of ours whose job has held no task at all (every attempt
   * released) for AZURE_BATCH_POOL_IDLE_MS. Costs one Pool List plus one task count per pool.
   */
  async sweepIdlePools(): Promise<string[]> {
    const deleted: string[] = [];
    const prefix = `${this.config.poolPrefix}-`;
    const pools = await this.gate.call(() =>
      this.client.pool.list({ poolListOptions: { filter: `startswith(id,'${prefix}')`, select: "id,state" } }),
    );
    const now = Date.now();
    for (const pool of pools) {
      const id = pool.id ?? "";
      if (lower(pool.state) !== "active" || this.creatingPools.has(id)) continue;
      let counts: BatchServiceModels.TaskCounts | undefined;
      try {
        counts = (await this.gate.call(() => this.client.job.getTaskCounts(id))).taskCounts;
      } catch (err) {
        if (codeOf(err) !== "JobNotFound") throw err;
      }
      const busy = counts !== undefined && counts.active + counts.running + counts.completed > 0;
      if (busy) {
        this.idleSince.delete(id);
        continue;
      }
      const since = this.idleSince.get(id) ?? now;
      this.idleSince.set(id, since);
      if (now - since < this.config.poolIdleMs) continue;
      this.readyPools.delete(id);
      this.views.delete(id);
      this.idleSince.delete(id);
      // §7: pool and job go together, ignoring "already gone".
      await this.gate.call(() => this.client.job.deleteMethod(id)).catch((err: unknown) => {
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      });
      await this.gate.call(() => this.client.pool.deleteMethod(id)).catch((err: unknown) => {
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      });
      deleted.push(id);
    }
    return deleted;
  }

  // ---------------------------------------------------------------- cancel, release

  async cancel(handles: readonly string[], _options?: CallOptions): Promise<void> {
    await Promise.all(
      handles.map(async (handle) => {
        const parsed = parseHandle(handle);
        if (parsed === undefined || this.results.has(handle)) return;
        this.cancelled.add(handle);
        try {
          await this.gate.call(() => this.client.task.terminate(parsed.jobId, parsed.taskId));
        } catch (err) {
          // Already completed (409) or gone (404): nothing left to stop.
          if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
        }
      }),
    );
  }

  async release(handles: readonly string[], _options?: CallOptions): Promise<void> {
    await Promise.all(
      handles.map(async (handle) => {
        const parsed = parseHandle(handle);
        if (parsed === undefined) return;
        try {
          await this.gate.call(() => this.client.task.deleteMethod(parsed.jobId, parsed.taskId));
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
        // Documents are named by Batch task id. Best effort: an expired SAS makes a leftover useless.
        await this.documents?.remove(parsed.taskId).catch(() => undefined);
        this.results.delete(handle);
        this.views.get(parsed.jobId)?.tasks.delete(lower(parsed.taskId));
        this.cancelled.delete(handle);
        this.preemptionHandled.delete(handle);
        this.firstStart.delete(handle);
        this.bodies.delete(handle);
      }),
    );
  }

  async close(): Promise<void> {
    await this.sweeping;
    this.readyPools.clear();
  }
}
