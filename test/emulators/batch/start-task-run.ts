import { join } from "node:path";
import type { Json, NodeRecord } from "./account-model.js";
import { startProcess } from "./node-process.js";
import { environmentSettings } from "./request-validation.js";
import type { AccountState } from "./account-state.js";
import { setNodeState } from "./compute-nodes.js";
import { environment } from "./node-environment.js";

/**
 * A node's start task: run with its retries; with waitForSuccess the node waits, then is idle or
 * startTaskFailed (§4).
 */
export function runStartTask(account: AccountState, node: NodeRecord): void {
  const startTask = node.pool.startTask as Json;
  const waitForSuccess = startTask.waitForSuccess !== false;
  const maxRetries = typeof startTask.maxTaskRetryCount === "number" ? startTask.maxTaskRetryCount : 0;
  const taskDir = join(node.rootDir, "startup");
  const workingDir = join(taskDir, "wd");
  const attempt = (retryCount: number) => {
    const startTime = account.now();
    node.startTaskInfo = { state: "running", startTime, retryCount };
    const wrap = account.config.wrapCommand;
    const proc = startProcess({
      commandLine: startTask.commandLine as string,
      taskDir,
      workingDir,
      env: environment(account, node, { AZ_BATCH_TASK_DIR: taskDir, AZ_BATCH_TASK_WORKING_DIR: workingDir, AZ_BATCH_NODE_STARTUP_WORKING_DIR: workingDir }, environmentSettings(startTask, "environmentSettings")),
      resourceFiles: [],
      maxWallClockMs: Number.MAX_SAFE_INTEGER,
      ...(wrap === undefined ? {} : { wrapCommand: (argv: string[]) => wrap(argv, { poolId: node.pool.id, nodeId: node.id }) }),
    });
    node.startTaskProcess = proc;
    void proc.done.then((outcome) => {
      if (node.startTaskProcess !== proc || account.stopped) return;
      node.startTaskProcess = undefined;
      const endTime = account.now();
      const exitCode = outcome.kind === "exited" || outcome.kind === "timed-out" ? outcome.exitCode : undefined;
      const success = outcome.kind === "exited" && outcome.exitCode === 0;
      if (!success && retryCount < maxRetries && (maxRetries === -1 || retryCount < maxRetries)) {
        attempt(retryCount + 1);
        return;
      }
      node.startTaskInfo = {
        state: "completed",
        startTime,
        endTime,
        retryCount,
        result: success ? "success" : "failure",
        ...(exitCode === undefined ? {} : { exitCode }),
        ...(success
          ? {}
          : {
              failureInfo:
                outcome.kind === "exited" || outcome.kind === "timed-out"
                  ? { category: "userError", code: "FailureExitCode", message: "The task exited with an exit code representing a failure", details: [] }
                  : { category: "userError", code: outcome.kind === "killed" ? "TaskEnded" : outcome.code, message: outcome.kind === "killed" ? "The start task was stopped" : outcome.message, details: [] },
            }),
      };
      // §4: with waitForSuccess a failed start task leaves the node startTaskFailed; tasks stay active.
      if (waitForSuccess) setNodeState(account, node, success ? "idle" : "startTaskFailed");
    });
  };
  if (!waitForSuccess) setNodeState(account, node, "idle");
  else setNodeState(account, node, "waitingForStartTask");
  attempt(0);
}
