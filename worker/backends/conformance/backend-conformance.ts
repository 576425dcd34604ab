import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { v7 as uuidv7 } from "uuid";
import { ExecutorSchema, InputSchema, State, TaskSchema, type Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import type { Attempt, AttemptResult, AttemptStatus, ComputeBackend } from "../compute-backend.js";

export interface BackendConformanceTarget {
  /** The backend under test, built fresh; the suite closes it at the end. */
  create(): Promise<ComputeBackend>;
  /** The image executors name (runtimes without images ignore it). Default "alpine:3". */
  image?: string;
  /** How long an attempt of a short task may take to end. Default 60000. */
  endTimeoutMs?: number;
  /** How long a cancel may take to stop a running attempt. Default 5000. */
  cancelTimeoutMs?: number;
  /** Pause between polls while waiting. Default 100. */
  pollIntervalMs?: number;
}

/**
 * The behaviour every compute backend must show, as node:test tests: the worker relies on each
 * point. A backend's test file calls this with a factory:
 *
 *   defineBackendConformanceTests("local (bwrap)", { create: async () => new LocalBackend(config) });
 *
 * Tasks here use only a POSIX shell in the executor image and an input from an address where
 * nothing listens, so any backend that runs containers can pass.
 */
export function defineBackendConformanceTests(name: string, target: BackendConformanceTarget): void {
  const image = target.image ?? "alpine:3";
  const endTimeoutMs = target.endTimeoutMs ?? 60_000;
  const cancelTimeoutMs = target.cancelTimeoutMs ?? 5000;
  const pauseMs = target.pollIntervalMs ?? 100;

  describe(`compute backend conformance: ${name}`, () => {
    let backend: ComputeBackend;
    const submitted: string[] = [];
    before(async () => {
      backend = await target.create();
    });
    after(async () => {
      await backend.cancel(submitted).catch(() => {});
      await backend.release(submitted).catch(() => {});
      await backend.close();
    });

    function attemptOf(commands: string[][], extra: Partial<Pick<Task, "inputs">> = {}, attempt = 0): Attempt {
      const task = create(TaskSchema, {
        id: uuidv7(),
        state: State.QUEUED,
        name: "conformance",
        creationTime: new Date().toISOString(),
        executors: commands.map((command) => create(ExecutorSchema, { image, command })),
        inputs: extra.inputs ?? [],
      });
      return { taskId: task.id, attempt, attemptId: `${task.id}-${attempt}`, task };
    }

    async function submitOne(attempt: Attempt): Promise<string> {
      const [outcome] = await backend.submit([attempt]);
      assert.ok(outcome !== undefined && outcome.kind === "submitted", `submit answered ${show(outcome)}`);
      submitted.push(outcome.handle);
      return outcome.handle;
    }

    async function waitForPhase(handle: string, phases: AttemptStatus["phase"][], timeoutMs: number): Promise<AttemptStatus> {
      const deadline = Date.now() + timeoutMs;
      let status: AttemptStatus | undefined;
      while (Date.now() < deadline) {
        [status] = await backend.poll([handle]);
        if (status !== undefined && phases.includes(status.phase)) return status;
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      assert.fail(`the attempt did not reach ${phases.join(" or ")} within ${timeoutMs} ms; last ${show(status)}`);
    }

    async function resultOf(handle: string): Promise<AttemptResult> {
      const status = await waitForPhase(handle, ["ended", "unknown"], endTimeoutMs);
      assert.equal(status.phase, "ended", `the attempt ended as ${show(status)}`);
      return status.result;
    }

    test("describes its capabilities: a name, backend_parameters keys and storage", () => {
      const { capabilities } = backend;
      assert.match(capabilities.name, /^[a-z][a-z0-9-]*$/);
      assert.ok(Array.isArray(capabilities.backendParameters));
      const lower = capabilities.backendParameters.map((key) => key.toLowerCase());
      assert.equal(new Set(lower).size, lower.length, "backend_parameters keys must differ case-insensitively");
      assert.ok(Array.isArray(capabilities.storage));
      for (const entry of capabilities.storage) assert.equal(typeof entry, "string");
    });

    test("ends a task whose executors succeed as complete, with times and stdout tails", async () => {
      const handle = await submitOne(attemptOf([["sh", "-c", "echo hello from conformance"], ["sh", "-c", "echo second >&2"]]));
      const result = await resultOf(handle);
      assert.equal(result.outcome, "complete");
      assert.equal(result.executors.length, 2);
      assert.deepEqual(result.executors.map((e) => e.exitCode), [0, 0]);
      assert.match(result.executors[0]!.stdout ?? "", /hello from conformance/);
      assert.match(result.executors[1]!.stderr ?? "", /second/);
      for (const executor of result.executors) {
        assert.ok(executor.startTime && !Number.isNaN(Date.parse(executor.startTime)), "executor start time");
        assert.ok(executor.endTime && !Number.isNaN(Date.parse(executor.endTime)), "executor end time");
      }
      assert.ok(result.startTime && result.endTime && Date.parse(result.startTime) <= Date.parse(result.endTime));
    });

    test("ends a task whose executor fails as executor_error with its exit code, running no later executor", async () => {
      const handle = await submitOne(attemptOf([["sh", "-c", "exit 3"], ["sh", "-c", "echo never"]]));
      const result = await resultOf(handle);
      assert.equal(result.outcome, "executor_error");
      assert.equal(result.executors[0]!.exitCode, 3);
      assert.ok(result.executors.length === 1, "the executor after the failing one must not run");
    });

    test("ends a task whose input cannot be downloaded as system_error, saying why", async () => {
      const input = create(InputSchema, { url: "http://127.0.0.1:9/conformance/missing.txt", path: "/data/in.txt" });
      const handle = await submitOne(attemptOf([["sh", "-c", "cat /data/in.txt"]], { inputs: [input] }));
      const result = await resultOf(handle);
      assert.equal(result.outcome, "system_error");
      assert.ok(result.systemLogs.join("").length > 0, "system_logs must say what failed");
      assert.equal(result.executors.length, 0);
    });

    test("answers a second submit of the same attempt id with the same handle and starts it once", async () => {
      const attempt = attemptOf([["sh", "-c", "echo once"]]);
      const [first, second] = await backend.submit([attempt, attempt]);
      const handle = await submitOne(attempt);
      assert.deepEqual(first, { kind: "submitted", handle });
      assert.deepEqual(second, { kind: "submitted", handle });
      const other = await submitOne({ ...attempt, attempt: 1, attemptId: `${attempt.taskId}-1` });
      assert.notEqual(other, handle, "another attempt of the same task gets its own handle");
      const result = await resultOf(handle);
      assert.equal(result.outcome, "complete");
      assert.equal(result.executors.length, 1);
      await resultOf(other);
    });

    test("polls many attempts in one call, answering in the order of the handles", async () => {
      const attempts = [
        attemptOf([["sh", "-c", "exit 0"]]),
        attemptOf([["sh", "-c", "exit 5"]]),
        attemptOf([["sh", "-c", "exit 0"]]),
      ];
      const outcomes = await backend.submit(attempts);
      assert.equal(outcomes.length, 3);
      const handles = outcomes.map((outcome) => {
        assert.equal(outcome.kind, "submitted");
        return outcome.kind === "submitted" ? outcome.handle : "";
      });
      submitted.push(...handles);
      assert.equal(new Set(handles).size, 3);
      const deadline = Date.now() + endTimeoutMs;
      let statuses: AttemptStatus[] = [];
      while (Date.now() < deadline) {
        statuses = await backend.poll(handles);
        assert.equal(statuses.length, 3);
        if (statuses.every((status) => status.phase === "ended")) break;
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      assert.deepEqual(
        statuses.map((status) => (status.phase === "ended" ? status.result.outcome : status.phase)),
        ["complete", "executor_error", "complete"],
      );
    });

    test("cancel stops a running attempt, and cancelling it again is harmless", async () => {
      const handle = await submitOne(attemptOf([["sh", "-c", "echo started; sleep 300"]]));
      await waitForPhase(handle, ["running"], endTimeoutMs);
      const asked = Date.now();
      await backend.cancel([handle]);
      const status = await waitForPhase(handle, ["ended"], cancelTimeoutMs);
      assert.ok(Date.now() - asked <= cancelTimeoutMs);
      assert.equal(status.phase === "ended" ? status.result.outcome : status.phase, "canceled");
      await backend.cancel([handle]);
      const [again] = await backend.poll([handle]);
      assert.equal(again?.phase, "ended");
    });

    test("release frees an ended attempt: the backend no longer knows its handle", async () => {
      const handle = await submitOne(attemptOf([["sh", "-c", "true"]]));
      await resultOf(handle);
      await backend.release([handle]);
      const [status] = await backend.poll([handle]);
      assert.equal(status?.phase, "unknown");
      await backend.release([handle]); // twice is harmless
    });
  });
}

/** A value for an assertion message; results hold bigints (sizes), which JSON.stringify refuses. */
function show(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item));
}
