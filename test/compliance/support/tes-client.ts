import assert from "node:assert/strict";
import { assertValidTes } from "../../support/openapi-validator.js";

/** A REST answer as a client sees it: status, headers, raw text and the parsed JSON (if any). */
export interface Reply<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: T;
}

export type View = "MINIMAL" | "BASIC" | "FULL";

/** The states after which a task never changes again. */
export const TERMINAL_STATES = ["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"] as const;

export interface TaskJson {
  id: string;
  state: string;
  name?: string;
  description?: string;
  inputs?: Array<Record<string, unknown>>;
  outputs?: Array<Record<string, unknown>>;
  resources?: Record<string, unknown>;
  executors?: Array<Record<string, unknown>>;
  volumes?: string[];
  tags?: Record<string, string>;
  logs?: TaskLogJson[];
  creation_time?: string;
}

export interface TaskLogJson {
  logs: Array<{ exit_code: number; start_time?: string; end_time?: string; stdout?: string; stderr?: string }>;
  outputs: Array<{ url: string; path: string; size_bytes: string }>;
  system_logs?: string[];
  metadata?: Record<string, string>;
  start_time?: string;
  end_time?: string;
}

export interface ListJson {
  tasks: TaskJson[];
  next_page_token?: string;
}

/**
 * A plain-fetch TES client that checks every 200 body against the OpenAPI (extra keys, nulls and
 * wrong types fail), the way strict clients (py-tes, the ELIXIR suite's pydantic models) read them.
 */
export class TesClient {
  constructor(readonly base: string) {}

  async request<T = unknown>(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
    const response = await fetch(`${this.base}${path}`, { method, body: init.body, headers: init.headers });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json: json as T };
  }

  /** POST /tasks with a JSON body; answers the raw reply (for refusals). */
  postTask(task: unknown): Promise<Reply<Record<string, unknown>>> {
    return this.request("POST", "/tasks", { body: JSON.stringify(task), headers: { "content-type": "application/json" } });
  }

  /** Creates a task and answers its id, checking the answer is exactly `{"id": "..."}`. */
  async createTask(task: unknown): Promise<string> {
    const reply = await this.postTask(task);
    assert.equal(reply.status, 200, `create answered ${reply.status}: ${reply.text}`);
    assertValidTes("tesCreateTaskResponse", reply.json);
    assert.deepEqual(Object.keys(reply.json), ["id"]);
    const id = reply.json.id;
    assert.ok(typeof id === "string" && id !== "", `no id in ${reply.text}`);
    return id;
  }

  /** GET /tasks/{id}[?view=...], checked against the shape of the view asked for. */
  async getTask(id: string, view?: View): Promise<TaskJson> {
    const reply = await this.request<TaskJson>("GET", `/tasks/${encodeURIComponent(id)}${view === undefined ? "" : `?view=${view}`}`);
    assert.equal(reply.status, 200, `get answered ${reply.status}: ${reply.text}`);
    assertTaskView(reply.json, view ?? "MINIMAL");
    return reply.json;
  }

  /** GET /tasks with query parameters (arrays repeat the key), checked against the view. */
  async listTasks(query: Record<string, string | number | readonly string[]> = {}): Promise<ListJson> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (Array.isArray(value)) for (const item of value as readonly string[]) params.append(key, item);
      else params.append(key, String(value));
    }
    const reply = await this.request<ListJson>("GET", `/tasks${params.size === 0 ? "" : `?${params}`}`);
    assert.equal(reply.status, 200, `list answered ${reply.status}: ${reply.text}`);
    const view = (query.view as View | undefined) ?? "MINIMAL";
    if (view === "MINIMAL") assertValidTes("tesListTasksResponseMinimal", reply.json);
    else assertValidTes("tesListTasksResponse", reply.json);
    for (const task of reply.json.tasks) assertTaskView(task, view);
    return reply.json;
  }

  /** POST /tasks/{id}:cancel; answers the reply (200 `{}` is checked by the caller). */
  cancel(id: string, suffix = ":cancel"): Promise<Reply<Record<string, unknown>>> {
    return this.request("POST", `/tasks/${encodeURIComponent(id)}${suffix}`);
  }

  /** Polls GET /tasks/{id} (MINIMAL, as workflow engines poll) until the state is one of `states`. */
  async waitForState(id: string, states: readonly string[], timeoutMs = 30_000): Promise<TaskJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.getTask(id, "MINIMAL");
      if (states.includes(task.state)) return this.getTask(id, "FULL");
      assert.ok(Date.now() < deadline, `task ${id} is still ${task.state} after ${timeoutMs} ms, not ${states.join(" or ")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits for a terminal state and answers the task in FULL. */
  waitForEnd(id: string, timeoutMs?: number): Promise<TaskJson> {
    return this.waitForState(id, TERMINAL_STATES, timeoutMs);
  }
}

/** The view's shape: MINIMAL is only id and state; BASIC drops the four FULL-only fields. */
export function assertTaskView(task: TaskJson, view: View): void {
  if (view === "MINIMAL") {
    assertValidTes("tesTaskMinimal", task);
    assert.deepEqual(Object.keys(task).sort(), ["id", "state"]);
    return;
  }
  assertValidTes("tesTask", task);
  if (view === "BASIC") {
    for (const input of task.inputs ?? []) assert.equal(input.content, undefined, "BASIC must not carry input content");
    for (const log of task.logs ?? []) {
      assert.equal(log.system_logs, undefined, "BASIC must not carry system_logs");
      for (const executor of log.logs) {
        assert.equal(executor.stdout, undefined, "BASIC must not carry executor stdout");
        assert.equal(executor.stderr, undefined, "BASIC must not carry executor stderr");
      }
    }
  }
}

/** The last attempt's log of a task read in BASIC or FULL. */
export function lastLog(task: TaskJson): TaskLogJson {
  const log = task.logs?.at(-1);
  assert.ok(log !== undefined, `task ${task.id} has no log: ${JSON.stringify(task)}`);
  return log;
}

/** An executor running a short `sh -c` script (bwrap runs the host's sh; the image is ignored). */
export function sh(script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { image: "alpine", command: ["sh", "-c", script], ...extra };
}
