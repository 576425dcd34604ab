import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { localServerEnv } from "../support/local-server-env.js";
import { TesProcess } from "./serve-process.js";

const TERMINAL = new Set(["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"]);
const TASK = JSON.stringify({ executors: [{ image: "alpine:3", command: ["sh", "-c", "echo done"] }] });

interface Outcome {
  readonly accepted: string[];
  /** Answers other than 200 (a refused connection is not an answer: that request was never accepted). */
  readonly otherStatuses: number[];
  refused: number;
}

/** `clients` loops of CreateTask over REST, until `stop()` or `limit` answers in all. */
function createTasksUnderLoad(baseUrl: string, clients: number, limit: number) {
  const outcome: Outcome = { accepted: [], otherStatuses: [], refused: 0 };
  let stopped = false;
  let answered = 0;
  const loop = async (): Promise<void> => {
    while (!stopped && answered + outcome.refused < limit) {
      try {
        const response = await fetch(`${baseUrl}/ga4gh/tes/v1/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: TASK,
        });
        const body = (await response.json()) as { id?: string };
        answered++;
        if (response.status === 200 && typeof body.id === "string") outcome.accepted.push(body.id);
        else outcome.otherStatuses.push(response.status);
      } catch {
        // Refused or cut before an answer: the client was never told its task was accepted.
        outcome.refused++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const running = Promise.all(Array.from({ length: clients }, loop));
  return {
    outcome,
    answered: () => answered,
    stop: async () => {
      stopped = true;
      await running;
      return outcome;
    },
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("graceful shutdown of `tes serve` (a real child process, local backend, SQLite, Redis)", () => {
  let dir: string;
  let env: Record<string, string>;
  const processes: TesProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tes-shutdown-"));
    env = {
      ...localServerEnv(dir, `tes-shutdown-${randomUUID()}`),
      WORKER_SWEEP_INTERVAL_MS: "500",
      WORKER_STALE_AFTER_MS: "1000",
      WORKER_JOB_LOCK_MS: "2000",
      SHUTDOWN_GRACE_MS: "5000",
      SHUTDOWN_READINESS_DELAY_MS: "1500",
    };
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    await rm(dir, { recursive: true, force: true });
  });

  test("SIGTERM under CreateTask load: readiness turns 503, every accepted task survives the restart and completes", async (t) => {
    const first = await TesProcess.start("serve", env);
    processes.push(first);
    const ready = await fetch(`${first.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });

    const load = createTasksUnderLoad(first.baseUrl, 8, 400);
    await waitFor("30 accepted tasks", async () => (load.outcome.accepted.length >= 30 ? true : undefined), 30_000);
    const exited = first.stop("SIGTERM");

    // During SHUTDOWN_READINESS_DELAY_MS the API still serves, and says it is not ready.
    const draining = await waitFor(
      "/readyz to answer 503",
      async () => {
        const response = await fetch(`${first.baseUrl}/readyz`).catch(() => undefined);
        return response?.status === 503 ? ((await response.json()) as unknown) : undefined;
      },
      1500,
    );
    assert.deepEqual(draining, { status: "draining" });
    const acceptedWhileDraining = load.outcome.accepted.length;

    assert.equal(await exited, 0, `exit code 0 after a graceful shutdown:\n${first.output.text.slice(-3000)}`);
    const outcome = await load.stop();
    assert.ok(outcome.accepted.length > acceptedWhileDraining, "calls were still served while draining");
    assert.deepEqual(outcome.otherStatuses, [], "every answered CreateTask was a 200");
    assert.match(first.output.text, /"msg":"stopped"/);
    assert.doesNotMatch(first.output.text, /"level":50/, "no error logged during the shutdown");

    // Restart on the same store and queue: every accepted task is there and runs to the end.
    const second = await TesProcess.start("serve", env);
    processes.push(second);
    const states = new Map<string, string>();
    for (const id of outcome.accepted) {
      const response = await fetch(`${second.baseUrl}/ga4gh/tes/v1/tasks/${id}`);
      assert.equal(response.status, 200, `task ${id} (answered 200 before the shutdown) exists after the restart`);
    }
    await waitFor(
      `all ${outcome.accepted.length} accepted tasks to end`,
      async () => {
        for (const id of outcome.accepted) {
          if (TERMINAL.has(states.get(id) ?? "")) continue;
          const task = (await (await fetch(`${second.baseUrl}/ga4gh/tes/v1/tasks/${id}`)).json()) as { state: string };
          states.set(id, task.state);
          if (!TERMINAL.has(task.state)) return undefined;
        }
        return true;
      },
      120_000,
    );
    t.diagnostic(
      `${outcome.accepted.length} tasks accepted (${acceptedWhileDraining} before /readyz turned 503), ${outcome.refused} calls refused after the listener closed, all ${outcome.accepted.length} COMPLETE after the restart`,
    );
    const notComplete = [...states].filter(([, state]) => state !== "COMPLETE");
    assert.deepEqual(notComplete, [], "every accepted task completes");
    assert.equal(await second.stop("SIGTERM"), 0);
  });
});
