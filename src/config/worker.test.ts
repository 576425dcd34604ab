import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "./env-reader.js";
import { loadWorkerConfig } from "./worker.js";

describe("loadWorkerConfig", () => {
  test("has working defaults", () => {
    const config = loadWorkerConfig({});
    assert.equal(config.backend, "local");
    assert.equal(config.concurrency, 16);
    assert.equal(config.pollIntervalMs, 1000);
    assert.equal(config.sweepIntervalMs, 30_000);
    assert.equal(config.staleAfterMs, 60_000);
    assert.equal(config.preemptionRetries, 2);
    assert.equal(config.queue.prefix, "tes");
    assert.equal(config.queue.redisUrl, undefined);
    assert.match(config.queue.dataDir, /\/data$/);
  });

  test("reads every setting", () => {
    const config = loadWorkerConfig({
      TES_BACKEND: "azure-batch",
      WORKER_CONCURRENCY: "4",
      WORKER_POLL_INTERVAL_MS: "250",
      WORKER_POLL_BATCH_SIZE: "50",
      WORKER_POLL_MAX_TASKS: "500",
      WORKER_SUBMIT_BATCH_SIZE: "20",
      WORKER_SUBMIT_BATCH_WAIT_MS: "0",
      WORKER_SWEEP_INTERVAL_MS: "1000",
      WORKER_STALE_AFTER_MS: "2000",
      WORKER_SWEEP_BATCH_SIZE: "10",
      WORKER_PREEMPTION_RETRIES: "0",
      WORKER_JOB_LOCK_MS: "5000",
      WORKER_JOB_ATTEMPTS: "3",
      WORKER_JOB_BACKOFF_MS: "100",
      REDIS_URL: "rediss://cache.example:6380/2",
      QUEUE_PREFIX: "tes-prod",
      TES_DATA_DIR: "/var/lib/tes",
    });
    assert.deepEqual(
      { ...config, queue: { ...config.queue, redisUrl: config.queue.redisUrl?.href } },
      {
        backend: "azure-batch",
        concurrency: 4,
        pollIntervalMs: 250,
        pollBatchSize: 50,
        pollMaxTasks: 500,
        submitBatchSize: 20,
        submitBatchWaitMs: 0,
        sweepIntervalMs: 1000,
        staleAfterMs: 2000,
        sweepBatchSize: 10,
        preemptionRetries: 0,
        jobLockMs: 5000,
        jobAttempts: 3,
        jobBackoffMs: 100,
        queue: { redisUrl: "rediss://cache.example:6380/2", prefix: "tes-prod", dataDir: "/var/lib/tes" },
      },
    );
  });

  for (const [name, value, message] of [
    ["TES_BACKEND", "kubernetes", /TES_BACKEND must be one of local, azure-batch/],
    ["WORKER_CONCURRENCY", "0", /WORKER_CONCURRENCY must be between 1 and 1000/],
    ["WORKER_POLL_INTERVAL_MS", "fast", /WORKER_POLL_INTERVAL_MS must be an integer/],
    ["WORKER_JOB_LOCK_MS", "10", /WORKER_JOB_LOCK_MS must be between 1000/],
    ["QUEUE_PREFIX", "tes:prod", /QUEUE_PREFIX must be 1 to 64 letters/],
    ["REDIS_URL", "http://user:hunter2@cache:6379", /^REDIS_URL must start with redis:\/\/ or rediss:\/\/$/],
  ] as const) {
    test(`refuses a bad ${name}, naming it`, () => {
      assert.throws(() => loadWorkerConfig({ [name]: value }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
    });
  }

  test("refuses a poll batch larger than a poll cycle", () => {
    assert.throws(
      () => loadWorkerConfig({ WORKER_POLL_BATCH_SIZE: "200", WORKER_POLL_MAX_TASKS: "100" }),
      /WORKER_POLL_BATCH_SIZE \(200\) must not exceed WORKER_POLL_MAX_TASKS \(100\)/,
    );
  });
});
