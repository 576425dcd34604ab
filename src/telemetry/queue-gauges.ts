import { metrics } from "@opentelemetry/api";
import type { BullMqTaskQueue } from "../queue/bullmq-task-queue.js";

/**
 * tes.queue.jobs {queue, state=waiting|active} and tes.queue.oldest_waiting_age (seconds) {queue},
 * read from Redis only when a reader collects (a Prometheus scrape, a periodic export): a few
 * Redis commands per collection, nothing per task. Returns the function that stops observing.
 */
export function observeQueueDepth(queue: BullMqTaskQueue): () => void {
  const meter = metrics.getMeter("tes");
  const jobs = meter.createObservableGauge("tes.queue.jobs", { description: "jobs in the task queues, by queue and state" });
  const age = meter.createObservableGauge("tes.queue.oldest_waiting_age", { description: "age of the oldest waiting job", unit: "s" });
  const callback = async (result: Parameters<Parameters<typeof meter.addBatchObservableCallback>[0]>[0]): Promise<void> => {
    for (const depth of await queue.depth()) {
      result.observe(jobs, depth.waiting, { queue: depth.queue, state: "waiting" });
      result.observe(jobs, depth.active, { queue: depth.queue, state: "active" });
      result.observe(age, (depth.oldestWaitingAgeMs ?? 0) / 1000, { queue: depth.queue });
    }
  };
  meter.addBatchObservableCallback(callback, [jobs, age]);
  return () => meter.removeBatchObservableCallback(callback, [jobs, age]);
}
