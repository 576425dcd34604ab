import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FileType, State, TaskLogSchema, TaskSchema, type Task } from "../src/gen/ga4gh/tes/v1/tes_pb.js";
import { TERMINAL_STATES } from "../src/store/task-states.js";
import type { AttemptResult } from "./backends/compute-backend.js";
import {
  attemptBlocked,
  attemptRejected,
  attemptSubmitted,
  beginAttempt,
  canTransition,
  cancelFinished,
  followAttempt,
  hasPendingAttempt,
  IllegalTransitionError,
} from "./task-state-machine.js";

const now = new Date("2026-11-28T06:00:00.000Z");
const options = { preemptionRetries: 1, now };

function task(state: State, attempts = 1): Task {
  return create(TaskSchema, { id: "t1", state, logs: Array.from({ length: attempts }, () => create(TaskLogSchema)) });
}

const ALL_STATES = Object.values(State).filter((value): value is State => typeof value === "number");

describe("task state machine", () => {
  test("a terminal state never becomes another state", () => {
    for (const from of TERMINAL_STATES) {
      for (const to of ALL_STATES) assert.equal(canTransition(from, to), from === to, `${State[from]} -> ${State[to]}`);
    }
  });

  test("states move forward, CANCELING only to CANCELED, and only a preemption retry goes back to QUEUED", () => {
    assert.ok(canTransition(State.QUEUED, State.INITIALIZING));
    assert.ok(!canTransition(State.QUEUED, State.RUNNING));
    assert.ok(!canTransition(State.QUEUED, State.COMPLETE));
    assert.ok(canTransition(State.INITIALIZING, State.RUNNING));
    assert.ok(!canTransition(State.RUNNING, State.INITIALIZING));
    assert.ok(canTransition(State.RUNNING, State.QUEUED));
    assert.deepEqual(ALL_STATES.filter((to) => to !== State.CANCELING && canTransition(State.CANCELING, to)), [State.CANCELED]);
  });

  test("an attempt begins with a log entry before the backend hears of it, then may be pending", () => {
    const queued = task(State.QUEUED, 0);
    assert.equal(hasPendingAttempt(queued, ""), false);
    const begun = beginAttempt(queued);
    assert.equal(begun.logs.length, 1);
    assert.equal(queued.logs.length, 0, "the input is not changed");
    assert.equal(hasPendingAttempt(begun, ""), true);
    assert.equal(hasPendingAttempt(begun, "h1"), false);
    assert.throws(() => beginAttempt(task(State.RUNNING)), IllegalTransitionError);
    assert.equal(attemptSubmitted(begun).state, State.INITIALIZING);
  });

  test("a blocked attempt says why once, however often it is blocked", () => {
    const once = attemptBlocked(task(State.QUEUED), "quota of 10 cores used");
    assert.deepEqual(once?.logs[0]?.systemLogs, ["waiting for the backend: quota of 10 cores used"]);
    assert.equal(attemptBlocked(once!, "quota of 10 cores used"), undefined);
    assert.equal(attemptBlocked(once!, "no spot capacity")?.logs[0]?.systemLogs.length, 2);
  });

  test("a rejected attempt ends SYSTEM_ERROR with the reason and an end time", () => {
    const rejected = attemptRejected(task(State.QUEUED), "no VM size fits", now);
    assert.equal(rejected.state, State.SYSTEM_ERROR);
    assert.deepEqual(rejected.logs[0]?.systemLogs, ["the backend rejected the task: no VM size fits"]);
    assert.equal(rejected.logs[0]?.endTime, now.toISOString());
  });

  test("running moves INITIALIZING to RUNNING, and the same report twice writes nothing", () => {
    const status = { phase: "running" as const, executorLogs: [{ exitCode: 0, startTime: "2026-11-28T05:59:00.000Z" }] };
    const step = followAttempt(task(State.INITIALIZING), status, options);
    assert.equal(step?.task.state, State.RUNNING);
    assert.equal(step?.task.logs[0]?.startTime, "2026-11-28T05:59:00.000Z");
    assert.equal(followAttempt(step!.task, status, options), undefined);
    assert.equal(followAttempt(task(State.RUNNING), { phase: "initializing" }, options), undefined);
  });

  test("a running attempt whose first executor has not ended yet gets a start time: the first poll that saw it run", () => {
    const step = followAttempt(task(State.INITIALIZING), { phase: "running" }, options);
    assert.equal(step?.task.state, State.RUNNING);
    assert.equal(step?.task.logs[0]?.startTime, now.toISOString());
    const later = { ...options, now: new Date("2026-11-28T06:05:00.000Z") };
    assert.equal(followAttempt(step!.task, { phase: "running" }, later), undefined);
  });

  test("an ended attempt's result fills the log, and its outcome picks the state", () => {
    const result: AttemptResult = {
      outcome: "executor_error",
      startTime: "2026-11-28T05:59:00.000Z",
      endTime: "2026-11-28T05:59:30.000Z",
      executors: [{ exitCode: 0 }, { exitCode: 2, stderr: "boom\n" }],
      outputs: [{ url: "file:///out/a", path: "/out/a", sizeBytes: 7n }],
      systemLogs: ["uploaded 1 file"],
      metadata: { node: "n1" },
    };
    const step = followAttempt(task(State.RUNNING), { phase: "ended", result }, options)!;
    assert.equal(step.task.state, State.EXECUTOR_ERROR);
    assert.ok(step.attemptOver && !step.resubmit);
    const log = step.task.logs[0]!;
    assert.deepEqual(log.logs.map((e) => [e.exitCode, e.stderr]), [[0, ""], [2, "boom\n"]]);
    assert.deepEqual(log.outputs.map((o) => [o.url, o.path, o.sizeBytes]), [["file:///out/a", "/out/a", 7n]]);
    assert.deepEqual(log.systemLogs, ["uploaded 1 file"]);
    assert.deepEqual(log.metadata, { node: "n1" });
    assert.equal(log.endTime, "2026-11-28T05:59:30.000Z");
    for (const [outcome, state] of [["complete", State.COMPLETE], ["system_error", State.SYSTEM_ERROR], ["canceled", State.SYSTEM_ERROR]] as const) {
      assert.equal(followAttempt(task(State.RUNNING), { phase: "ended", result: { ...result, outcome } }, options)?.task.state, state);
    }
  });

  test("an ended attempt fills in the type of each untyped output from what was uploaded; declared types and wildcards stay", () => {
    const running = create(TaskSchema, {
      id: "t1",
      state: State.RUNNING,
      logs: [create(TaskLogSchema)],
      outputs: [
        { path: "/out/file.txt", url: "s3://b/f" },
        { path: "/out//dir/", url: "s3://b/d" },
        { path: "/out/declared", url: "s3://b/x", type: FileType.FILE },
        { path: "/out/*.log", pathPrefix: "/out/", url: "s3://b/logs" },
        { path: "/out/missing", url: "s3://b/m" },
      ],
    });
    const uploaded = ["/out/file.txt", "/out/dir/a", "/out/dir/sub/b", "/out/declared/c", "/out/x.log"];
    const result: AttemptResult = {
      outcome: "complete",
      executors: [{ exitCode: 0 }],
      outputs: uploaded.map((path) => ({ url: `s3://b${path}`, path, sizeBytes: 1n })),
      systemLogs: [],
    };
    const ended = followAttempt(running, { phase: "ended", result }, options)!.task;
    assert.deepEqual(
      ended.outputs.map((output) => output.type),
      [FileType.FILE, FileType.DIRECTORY, FileType.FILE, undefined, undefined],
    );
  });

  test("a preemption is retried as a new attempt while retries are left, then ends PREEMPTED", () => {
    const retry = followAttempt(task(State.RUNNING, 1), { phase: "preempted", reason: "spot reclaimed" }, options)!;
    assert.equal(retry.task.state, State.QUEUED);
    assert.ok(retry.resubmit && retry.attemptOver);
    assert.equal(retry.task.logs.length, 2);
    assert.match(retry.task.logs[0]!.systemLogs[0]!, /attempt 1 was preempted \(spot reclaimed\); retrying/);
    const last = followAttempt(task(State.RUNNING, 2), { phase: "preempted", reason: "spot reclaimed" }, options)!;
    assert.equal(last.task.state, State.PREEMPTED);
    assert.ok(!last.resubmit);
    assert.equal(last.task.logs.length, 2);
  });

  test("an attempt waiting on the backend says why once, in the backend's words, and stays INITIALIZING", () => {
    const status = { phase: "queued" as const, reason: "waiting for 1 CPU core on this host" };
    const step = followAttempt(task(State.INITIALIZING), status, options)!;
    assert.equal(step.task.state, State.INITIALIZING);
    assert.deepEqual(step.task.logs[0]?.systemLogs, ["waiting for 1 CPU core on this host"]);
    assert.equal(followAttempt(step.task, status, options), undefined);
    assert.equal(followAttempt(task(State.INITIALIZING), { phase: "queued" }, options), undefined);
  });

  test("a lost attempt ends SYSTEM_ERROR; a task that is not followed is not changed by a poll", () => {
    assert.equal(followAttempt(task(State.RUNNING), { phase: "unknown", reason: "gone" }, options)?.task.state, State.SYSTEM_ERROR);
    for (const state of [State.QUEUED, State.CANCELING, ...TERMINAL_STATES]) {
      assert.equal(followAttempt(task(state), { phase: "ended", result: { outcome: "complete", executors: [], outputs: [], systemLogs: [] } }, options), undefined);
    }
  });

  test("a finished cancel ends CANCELED, from CANCELING only", () => {
    const canceled = cancelFinished(task(State.CANCELING), now);
    assert.equal(canceled.state, State.CANCELED);
    assert.equal(canceled.logs[0]?.endTime, now.toISOString());
    assert.throws(() => cancelFinished(task(State.RUNNING), now), IllegalTransitionError);
  });
});
