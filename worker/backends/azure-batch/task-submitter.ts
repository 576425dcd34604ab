import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig } from "../../../src/config/azure-batch.js";
import type { Attempt, SubmitOutcome } from "../compute-backend.js";
import { type BatchCallGate, codeOf, statusOf } from "./batch-call-gate.js";
import { handleOf, lower } from "./batch-ids.js";
import { poolPlan, registriesForTask, taskAddParameter, type PoolPlan } from "./batch-specs.js";
import type { PoolProvisioner } from "./pool-provisioner.js";
import type { TaskDocumentRenewal } from "./task-document-renewal.js";
import { registryLoginsFor, withRegistryLogins, type TaskDocuments } from "./task-documents.js";
import { chooseVmSize } from "./vm-size-catalog.js";

/** §3: AddCollection takes ≤ 100 tasks and < 1 MB. */
export const MAX_TASKS_PER_COLLECTION = 100;
const MAX_COLLECTION_BYTES = 900 * 1024;

type Item = { index: number; attempt: Attempt };

/**
 * Turns attempts into Batch tasks: each goes to the shared pool its VM size, priority and node
 * shape call for, its task document to blob storage, and the tasks to AddCollection, ≤ 100 per call.
 */
export class TaskSubmitter {
  constructor(
    private readonly client: BatchServiceClient,
    private readonly config: AzureBatchConfig,
    private readonly gate: BatchCallGate,
    private readonly pools: PoolProvisioner,
    /** Where task documents go; undefined only with AZURE_BATCH_TASK_DOCUMENT_IN_ENVIRONMENT. */
    private readonly documents: TaskDocuments | undefined,
    /** Told what each task was added with, to add it again with renewed URLs; there with documents. */
    private readonly renewal: TaskDocumentRenewal | undefined,
    /** The clock document URLs are signed by (the one renewal decides by). */
    private readonly now: () => number,
  ) {}

  async submit(attempts: readonly Attempt[]): Promise<SubmitOutcome[]> {
    const outcomes: (SubmitOutcome | undefined)[] = attempts.map(() => undefined);
    const byPool = new Map<string, { plan: PoolPlan; items: Item[] }>();
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
        const problem = await this.pools.ensurePool(plan);
        if (problem !== undefined) {
          for (const { index } of items) outcomes[index] = problem;
          return;
        }
        await this.addTasks(plan, items, outcomes);
      }),
    );
    return outcomes.map((outcome) => outcome ?? { kind: "blocked", reason: "the submission did not complete; it will be tried again" });
  }

  private async addTasks(plan: PoolPlan, items: Item[], outcomes: (SubmitOutcome | undefined)[]): Promise<void> {
    // Same attempt twice in one call: the later one waits for the first's answer.
    const seen = new Map<string, number>();
    const firsts: Item[] = [];
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
          this.pools.forget(plan.id);
          const problem = await this.pools.ensurePool(plan);
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
        const handle = handleOf(plan.id, item.body.id);
        // Status casing differs between the 10.2.0 typings and the wire (§2 "Enum casing").
        if (result === undefined || lower(result.status) === "servererror") {
          retry.push(item);
        } else if (lower(result.status) === "success" || result.error?.code === "TaskExists") {
          // §3: a resend after a lost answer reports TaskExists for tasks already added.
          outcomes[item.index] = { kind: "submitted", handle };
          this.renewal?.remember(handle, item.body, signedAt);
        } else {
          const message = result.error?.message?.value?.split("\n")[0] ?? "refused";
          outcomes[item.index] = { kind: "rejected", reason: `Azure Batch refused the task: ${result.error?.code ?? "clientError"}: ${message}` };
        }
      }
      pending = retry;
    }
  }
}
