import { BlobSASPermissions, BlobServiceClient, generateBlobSASQueryParameters, StorageSharedKeyCredential, type ContainerClient, type UserDelegationKey } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import { toJsonString } from "@bufbuild/protobuf";
import { TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { BatchServiceModels } from "@azure/batch";
import type { AzureBatchConfig, ContainerRegistryConfig, TaskDocumentsConfig } from "../../../src/config/azure-batch.js";
import { registriesForImages } from "../../../src/config/azure-batch-registries.js";
import type { RegistryLoginEntry } from "../../runner/registry-login/registry-logins.js";
import type { Attempt } from "../compute-backend.js";
import { batchTaskId, TASK_DOCUMENT_FILE } from "./batch-specs.js";

/** The registry logins document's resource file, beside task.json in the task's working directory. */
export const REGISTRY_LOGINS_FILE = "registry-logins.json";
/** The environment setting that names it for the runner (worker/runner/cli.ts --registry-logins). */
export const REGISTRY_LOGINS_ENV = "TES_REGISTRY_LOGINS";
/** Each document of a Batch task: its blob, under the task's own prefix, and where the node puts it. */
const FILES = [TASK_DOCUMENT_FILE, REGISTRY_LOGINS_FILE] as const;

/**
 * Where a Batch task's TES task document travels: a blob, handed to the node as a resource file
 * with a read-only SAS on that one blob that expires after AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS.
 * Batch shows a task's environment settings, command line and resource file URLs to anyone who may
 * read the account's tasks, and offers no secret environment setting (2022-10-01), so the document,
 * whose inputs and outputs often hold SAS URLs, must not sit in the task itself. What the task does
 * show is a read SAS on the document alone, useless once expired; the blob is deleted when the
 * attempt is released. An attempt whose executor images come from configured registries gets a
 * second document the same way, its registry logins (REGISTRY_LOGINS_FILE) for the runner's own
 * sign-in (worker/runner/registry-login/); the backend renews both URLs of a long-queued task.
 */
export class TaskDocuments {
  private readonly service: BlobServiceClient;
  private readonly container: ContainerClient;
  private readonly sharedKey: StorageSharedKeyCredential | undefined;
  private delegation: { key: UserDelegationKey; expiresAt: number } | undefined;
  private created: Promise<unknown> | undefined;

  private readonly now: () => number;

  constructor(
    private readonly config: TaskDocumentsConfig,
    credential?: TokenCredential,
    /** The clock SAS start and expiry times are taken from (tests move it). */
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
    const { serviceUrl, containerName, accountName } = config;
    if (config.accountKey !== undefined) {
      this.sharedKey = new StorageSharedKeyCredential(accountName, config.accountKey);
      this.service = new BlobServiceClient(serviceUrl, this.sharedKey);
    } else {
      if (credential === undefined) throw new Error("task documents need a storage account key or a Microsoft Entra credential");
      this.sharedKey = undefined;
      this.service = new BlobServiceClient(serviceUrl, credential);
    }
    this.container = this.service.getContainerClient(containerName);
  }

  /** The blob name of one of a Batch task's documents, by its id (letters, digits, - and _). */
  static blobName(batchTaskId: string, file: (typeof FILES)[number] = TASK_DOCUMENT_FILE): string {
    return `${batchTaskId.toLowerCase()}/${file}`;
  }

  /** Uploads the attempt's document; answers the read-only, short-lived URL the node downloads it from. */
  async put(attempt: Attempt): Promise<string> {
    return this.upload(TaskDocuments.blobName(batchTaskId(attempt.attemptId)), toJsonString(TaskSchema, attempt.task));
  }

  /**
   * Uploads the registry logins document of an attempt whose executor images pull from configured
   * registries (registryLoginsFor); answers its URL, as for the task document.
   */
  async putRegistryLogins(attempt: Attempt, registries: readonly ContainerRegistryConfig[]): Promise<string> {
    const entries = registries.map((r): RegistryLoginEntry =>
      r.identityResourceId !== undefined
        ? { server: r.server, identityResourceId: r.identityResourceId }
        : { server: r.server, username: r.username ?? "", password: r.password ?? "" },
    );
    return this.upload(TaskDocuments.blobName(batchTaskId(attempt.attemptId), REGISTRY_LOGINS_FILE), JSON.stringify({ version: 1, registries: entries }));
  }

  /**
   * A fresh read SAS for each document resource file of a Batch task (renewing a long-queued task's
   * URLs: the blobs stay as they were uploaded). Other resource files are kept as they are.
   */
  async renewedResourceFiles(batchTaskId: string, files: readonly BatchServiceModels.ResourceFile[]): Promise<BatchServiceModels.ResourceFile[]> {
    return Promise.all(
      files.map(async (file) => {
        const ours = FILES.find((name) => name === file.filePath);
        if (ours === undefined) return file;
        return { ...file, httpUrl: await this.signedUrl(TaskDocuments.blobName(batchTaskId, ours)) };
      }),
    );
  }

  private async upload(name: string, text: string): Promise<string> {
    this.created ??= this.container.createIfNotExists().catch((err: unknown) => {
      this.created = undefined;
      throw err;
    });
    await this.created;
    const blob = this.container.getBlockBlobClient(name);
    await blob.upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "application/json" } });
    return this.signedUrl(name);
  }

  private async signedUrl(name: string): Promise<string> {
    const blob = this.container.getBlobClient(name);
    const now = this.now();
    const values = {
      containerName: this.config.containerName,
      blobName: name,
      permissions: BlobSASPermissions.parse("r"),
      // A little back in time, for clocks of the node and storage that run behind ours.
      startsOn: new Date(now - 5 * 60_000),
      expiresOn: new Date(now + this.config.sasTtlSeconds * 1000),
    };
    const query =
      this.sharedKey !== undefined
        ? generateBlobSASQueryParameters(values, this.sharedKey).toString()
        : generateBlobSASQueryParameters(values, await this.delegationKey(values.expiresOn), this.config.accountName).toString();
    return `${blob.url}?${query}`;
  }

  /** Deletes the documents of a Batch task; already gone is fine. */
  async remove(batchTaskId: string): Promise<void> {
    await Promise.all(FILES.map((file) => this.container.getBlobClient(TaskDocuments.blobName(batchTaskId, file)).deleteIfExists()));
  }

  /** With Entra ID: one user delegation key (≤ 7 days) reused while it outlives the SAS asked for. */
  private async delegationKey(until: Date): Promise<UserDelegationKey> {
    if (this.delegation !== undefined && this.delegation.expiresAt > until.getTime()) return this.delegation.key;
    const startsOn = new Date(this.now() - 5 * 60_000);
    const expiresOn = new Date(this.now() + 6.5 * 24 * 3600_000);
    const key = await this.service.getUserDelegationKey(startsOn, expiresOn);
    this.delegation = { key, expiresAt: expiresOn.getTime() };
    return key;
  }
}

/**
 * The registries the runner signs in to for an attempt: the configured ones its executor images
 * pull from (the runner image's own registry is Batch's to log in to). Only with a runner image:
 * without one, no registry is configured at all (src/config/azure-batch.ts).
 */
export function registryLoginsFor(config: AzureBatchConfig, attempt: Attempt): ContainerRegistryConfig[] {
  if (config.runnerImage === undefined) return [];
  return registriesForImages(config.containerRegistries, attempt.task.executors.map((executor) => executor.image));
}

/** The Batch task gets the logins document as a resource file, and the setting naming it for the runner. */
export function withRegistryLogins(body: BatchServiceModels.TaskAddParameter, url: string): BatchServiceModels.TaskAddParameter {
  return {
    ...body,
    resourceFiles: [...(body.resourceFiles ?? []), { httpUrl: url, filePath: REGISTRY_LOGINS_FILE }],
    environmentSettings: [...(body.environmentSettings ?? []), { name: REGISTRY_LOGINS_ENV, value: REGISTRY_LOGINS_FILE }],
  };
}
