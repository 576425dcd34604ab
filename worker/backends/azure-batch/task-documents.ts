import { BlobSASPermissions, BlobServiceClient, generateBlobSASQueryParameters, StorageSharedKeyCredential, type ContainerClient, type UserDelegationKey } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import { toJsonString } from "@bufbuild/protobuf";
import { TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { TaskDocumentsConfig } from "../../../src/config/azure-batch.js";
import type { Attempt } from "../compute-backend.js";
import { batchTaskId } from "./batch-specs.js";

/**
 * Where a Batch task's TES task document travels: a blob, handed to the node as a resource file
 * with a read-only SAS on that one blob that expires after AZURE_BATCH_TASK_DOCUMENT_SAS_TTL_SECONDS.
 * Batch shows a task's environment settings, command line and resource file URLs to anyone who may
 * read the account's tasks, and offers no secret environment setting (2022-10-01), so the document,
 * whose inputs and outputs often hold SAS URLs, must not sit in the task itself. What the task does
 * show is a read SAS on the document alone, useless once expired; the blob is deleted when the
 * attempt is released.
 */
export class TaskDocuments {
  private readonly service: BlobServiceClient;
  private readonly container: ContainerClient;
  private readonly sharedKey: StorageSharedKeyCredential | undefined;
  private delegation: { key: UserDelegationKey; expiresAt: number } | undefined;
  private created: Promise<unknown> | undefined;

  constructor(
    private readonly config: TaskDocumentsConfig,
    credential?: TokenCredential,
  ) {
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

  /** The blob name of an attempt's document, by its Batch task id (letters, digits, - and _). */
  static blobName(batchTaskId: string): string {
    return `${batchTaskId.toLowerCase()}/task.json`;
  }

  /** Uploads the attempt's document; answers the read-only, short-lived URL the node downloads it from. */
  async put(attempt: Attempt): Promise<string> {
    this.created ??= this.container.createIfNotExists().catch((err: unknown) => {
      this.created = undefined;
      throw err;
    });
    await this.created;
    const text = toJsonString(TaskSchema, attempt.task);
    const name = TaskDocuments.blobName(batchTaskId(attempt.attemptId));
    const blob = this.container.getBlockBlobClient(name);
    await blob.upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "application/json" } });
    const now = Date.now();
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

  /** Deletes the document of a Batch task; already gone is fine. */
  async remove(batchTaskId: string): Promise<void> {
    await this.container.getBlobClient(TaskDocuments.blobName(batchTaskId)).deleteIfExists();
  }

  /** With Entra ID: one user delegation key (≤ 7 days) reused while it outlives the SAS asked for. */
  private async delegationKey(until: Date): Promise<UserDelegationKey> {
    if (this.delegation !== undefined && this.delegation.expiresAt > until.getTime()) return this.delegation.key;
    const startsOn = new Date(Date.now() - 5 * 60_000);
    const expiresOn = new Date(Date.now() + 6.5 * 24 * 3600_000);
    const key = await this.service.getUserDelegationKey(startsOn, expiresOn);
    this.delegation = { key, expiresAt: expiresOn.getTime() };
    return key;
  }
}
