import { writeFile } from "node:fs/promises";
import { AddressPolicy } from "./address-policy.js";
import { runWithLimit } from "./concurrency-limit.js";
import { ContainerRoot, PathEscapeError } from "./container-path.js";
import { downloadFile } from "./download-file.js";
import type { Manifest, TransferRecord, TransferReport } from "./manifest.js";
import { ManifestError, parseManifest } from "./manifest-validation.js";
import { LocalFileError } from "./provider-error.js";
import type { ProviderRegistry } from "./provider-registry.js";
import { createBuiltinRegistry } from "./providers/builtin-providers.js";
import { Redactor } from "./redact.js";
import type { RetryOptions } from "./retry.js";
import { planDownloads, planUploads, type TransferJob } from "./transfer-plan.js";
import { OptionsError, resolveTransferOptions, type ResolvedTransferOptions, type TransferOptions } from "./transfer-options.js";
import { ProgressTracker } from "./transfer-progress.js";
import { uploadFile } from "./upload-file.js";

export type TransferDirection = "download" | "upload";

/**
 * Moves a task's inputs into place ("download") or its outputs out ("upload"), as the manifest
 * says, and reports every file. It never throws for a transfer problem: a bad manifest, a failed
 * listing or a failed file all end up in the report, with `ok: false`.
 */
export async function runTransfers(manifest: Manifest | unknown, direction: TransferDirection, options: TransferOptions = {}): Promise<TransferReport> {
  const redactor = new Redactor();
  const raw = manifest as Partial<Manifest> | undefined;
  for (const entry of [...(raw?.inputs ?? []), ...(raw?.outputs ?? [])]) redactor.addUrl(typeof entry?.url === "string" ? entry.url : undefined);

  let parsed: Manifest;
  let settings: ResolvedTransferOptions;
  try {
    parsed = parseManifest(manifest);
    settings = resolveTransferOptions(options);
  } catch (error) {
    if (error instanceof ManifestError) return { ok: false, files: [], errors: error.problems.map((p) => `manifest: ${redactor.text(p)}`) };
    if (error instanceof OptionsError) return { ok: false, files: [], errors: [`settings: ${redactor.text(error.message)}`] };
    throw error;
  }
  if (settings.azureBlob.accountKey) redactor.addSecret(settings.azureBlob.accountKey);
  // Passwords, keys and tokens handed to providers through the environment never appear in a message either.
  for (const [name, value] of Object.entries(settings.env)) {
    if (value && value.length >= 8 && /PASSWORD|PASSPHRASE|SECRET|TOKEN|KEY|CREDENTIAL|SAS/i.test(name) && !/(_FILE|_PATH|_URI|_ENDPOINT|_ID|_REGION|_PROFILE)$/i.test(name)) {
      redactor.addSecret(value);
    }
  }

  const retry: RetryOptions = {
    retries: settings.retries,
    baseDelayInMs: settings.retryBaseDelayInMs,
    maxDelayInMs: settings.retryMaxDelayInMs,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const policy = new AddressPolicy({ allowLinkLocal: settings.allowLinkLocal });
  const registry: ProviderRegistry = options.registry ?? createBuiltinRegistry({ addressPolicy: policy, env: settings.env }, settings);
  if (!options.registry) for (const provider of options.providers ?? []) registry.register(provider);
  const root = new ContainerRoot(parsed.root);
  const progress = new ProgressTracker(direction, options.onProgress);
  const ticker = options.onProgress ? setInterval(() => options.onProgress?.(progress.snapshot()), 1000) : undefined;
  ticker?.unref();
  const errors: string[] = [];

  try {
    await root.realRoot().catch(() => {
      throw new ManifestError([`root: "${parsed.root}" does not exist`]);
    });
    const jobs = direction === "download" ? await planDownloads(parsed, registry, retry, redactor) : await planUploads(parsed, root, redactor);
    progress.addFiles(jobs.length);
    const files: TransferRecord[] = new Array(jobs.length);
    await runWithLimit(jobs, settings.parallel, async (job, index) => {
      const record = await runJob(job, direction, { registry, root, policy, retry, redactor, progress, checksum: settings.uploadChecksums, idleTimeoutInMs: settings.idleTimeoutInMs, signal: options.signal });
      files[index] = record;
      progress.fileEnded(record.error !== undefined);
    });
    return { ok: files.every((file) => file.error === undefined), files, errors };
  } catch (error) {
    errors.push(error instanceof ManifestError ? error.problems.join("; ") : redactor.error(error));
    return { ok: false, files: [], errors };
  } finally {
    if (ticker) clearInterval(ticker);
    options.onProgress?.(progress.snapshot());
    if (!options.registry) await registry.close();
  }
}

interface JobContext {
  registry: ProviderRegistry;
  root: ContainerRoot;
  policy: AddressPolicy;
  retry: RetryOptions;
  redactor: Redactor;
  progress: ProgressTracker;
  checksum: boolean;
  idleTimeoutInMs: number;
  signal: AbortSignal | undefined;
}

async function runJob(job: TransferJob, direction: TransferDirection, context: JobContext): Promise<TransferRecord> {
  const started = Date.now();
  const url = job.kind === "content" ? "" : typeof job.url === "string" ? job.url : job.url.href;
  const record = (size: number, error?: string): TransferRecord => ({
    direction,
    url: url === "" ? "" : context.redactor.url(url),
    path: job.containerPath,
    size_bytes: String(size),
    duration_ms: Date.now() - started,
    ...(error === undefined ? {} : { error }),
  });
  if (job.kind === "failed") return record(0, context.redactor.text(job.error));
  const onBytes = (count: number): void => context.progress.addBytes(count);
  try {
    if (job.kind === "content") {
      const target = await context.root.prepareWrite(job.containerPath);
      const bytes = Buffer.from(job.content, "utf8");
      await writeFile(target, bytes).catch((error: Error) => {
        throw new LocalFileError(`writing the content failed: ${error.message}`);
      });
      onBytes(bytes.length);
      return record(bytes.length);
    }
    context.policy.assertHostAllowed(job.url.hostname);
    const provider = context.registry.resolve(job.url);
    const common = { retry: context.retry, idleTimeoutInMs: context.idleTimeoutInMs, onBytes, ...(context.signal ? { signal: context.signal } : {}) };
    if (job.kind === "download") {
      const target = await context.root.prepareWrite(job.containerPath);
      const result = await downloadFile(provider, job.url, target, common);
      return record(result.bytes);
    }
    const source = await context.root.resolveExisting(job.containerPath);
    if (source === undefined) return record(0, "the output file does not exist");
    const size = await uploadFile(provider, job.url, source, { ...common, checksum: context.checksum });
    return record(size);
  } catch (error) {
    if (error instanceof PathEscapeError) return record(0, error.message);
    return record(0, context.redactor.error(error));
  }
}
