import assert from "node:assert/strict";

/** The states a task never leaves. */
export const TERMINAL_STATES = ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"];

/**
 * Reads the task over REST from the server at `baseUrl` every 100 ms until it is in state `wanted`;
 * fails as soon as it ends in another state, or after 60 s.
 */
export async function waitForTaskState(baseUrl: string, id: string, wanted: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { state } = (await (await fetch(`${baseUrl}/ga4gh/tes/v1/tasks/${id}`)).json()) as { state: string };
    if (state === wanted) return;
    assert.ok(!TERMINAL_STATES.includes(state), `the task ended ${state}, not ${wanted}`);
    assert.ok(Date.now() < deadline, `the task is ${wanted} within 60 s (still ${state})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
