import { BatchManagementClient } from "@azure/arm-batch";
import type { TokenCredential } from "@azure/identity";
import type { AzureBatchArmConfig, AzureBatchConfig } from "../../../src/config/azure-batch.js";
import { armPoolParameters } from "./arm-pool-spec.js";
import { BatchCallGate, statusOf } from "./batch-call-gate.js";
import type { PoolPlan } from "./batch-specs.js";

/** Options of the ARM client a caller may add (a test's `tlsOptions.ca` for the emulator's self-signed certificate). */
export type ArmClientOptions = Pick<NonNullable<ConstructorParameters<typeof BatchManagementClient>[2]>, "tlsOptions" | "userAgentOptions">;

/**
 * Pool creation through Azure Resource Manager (PUT .../batchAccounts/{account}/pools/{pool},
 * @azure/arm-batch 9.1.0, api-version 2023-11-01), for pools that need user-assigned identities.
 * Deleting, listing and everything else stays on the data plane, which serves ARM-made pools too.
 *
 * Calls go through a gate of their own (ARM throttles per subscription, apart from the Batch
 * account's data plane): bounded concurrency, 429/5xx retried honouring Retry-After. The SDK's own
 * retries are off, as for the data plane, so that one policy decides.
 */
export class ArmPools {
  private readonly client: BatchManagementClient;
  private readonly gate: BatchCallGate;

  constructor(
    private readonly arm: AzureBatchArmConfig,
    private readonly config: AzureBatchConfig,
    credential: TokenCredential,
    clientOptions: ArmClientOptions = {},
  ) {
    this.client = new BatchManagementClient(credential, arm.subscriptionId, {
      ...clientOptions,
      endpoint: arm.endpoint,
      credentialScopes: [arm.scope],
      retryOptions: { maxRetries: 0 },
    });
    this.gate = new BatchCallGate({ maxConcurrent: config.maxConcurrentCalls, maxRetries: config.maxRetries, maxRetryDelayMs: config.maxRetryDelayMs });
  }

  /** ARM calls retried by status, for logs and the benchmark. */
  get retries(): ReadonlyMap<string, number> {
    return this.gate.retries;
  }

  /**
   * Creates the pool unless it exists. `If-None-Match: *` makes the PUT a create only: an existing
   * pool (same id, so the same shape: ids hash everything that shapes a node) answers 412 and is
   * left as it is, never updated under running tasks. Other errors are thrown as BatchCallError.
   */
  async create(plan: PoolPlan): Promise<void> {
    const body = armPoolParameters(this.config, plan);
    try {
      await this.gate.call(() => this.client.poolOperations.create(this.arm.resourceGroup, this.config.accountName, plan.id, body, { ifNoneMatch: "*" }));
    } catch (err) {
      if (statusOf(err) === 412) return;
      throw err;
    }
  }
}
