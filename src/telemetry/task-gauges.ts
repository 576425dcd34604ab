import { metrics, type ObservableResult } from "@opentelemetry/api";
import type { Logger } from "pino";
import { State } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { stateName } from "../store/task-states.js";
import type { TaskStore } from "../store/task-store.js";

/**
 * The states a task passes through before it ends. Terminal states are left out on purpose: their
 * counts only grow, so counting them would walk ever more rows on every collection, and
 * tes.task.transitions {to} already says how many tasks ended in each.
 */
export const LIVE_STATES: readonly State[] = [State.QUEUED, State.INITIALIZING, State.RUNNING, State.CANCELING];

/**
 * tes.tasks {state}: how many tasks are in each live state, across every owner, read from the task
 * store only when a reader collects (a Prometheus scrape, a periodic export): one grouped query per
 * collection, nothing per task. A failed read observes nothing (never made-up zeros): a cumulative
 * reader (Prometheus) keeps exporting the last counts read, so the failure is logged, once, not at
 * every collection, until a read succeeds again. Returns the function that stops observing.
 */
export function observeTasksByState(store: TaskStore, logger: Logger): () => void {
  const meter = metrics.getMeter("tes");
  const gauge = meter.createObservableGauge("tes.tasks", { description: "tasks in each live state (QUEUED, INITIALIZING, RUNNING, CANCELING)" });
  let failing = false;
  const callback = async (result: ObservableResult): Promise<void> => {
    let counts: Map<State, number>;
    try {
      counts = await store.countByState(LIVE_STATES);
    } catch (error) {
      if (!failing) logger.warn({ err: error }, "tes.tasks not reported: counting tasks by state failed");
      failing = true;
      return;
    }
    if (failing) logger.info("tes.tasks reported again: counting tasks by state works");
    failing = false;
    for (const [state, count] of counts) result.observe(count, { state: stateName(state) });
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}
