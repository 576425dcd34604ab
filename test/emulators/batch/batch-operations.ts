import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import type { BatchAccount } from "./batch-account.js";
import { batchTime, errors, queryError, type BatchError } from "./batch-error.js";
import type { Json } from "./account-model.js";
import { applySelect, jobFilter, nextLink, nodeFilter, page, parseSelect, poolFilter, refuseExpand, selectable, taskFilter } from "./list-query.js";

/**
 * The Batch REST operations the emulator answers, by operation name (the REST operation ids,
 * e.g. "Task_AddCollection"), with the paths, methods and success statuses of @azure/batch 10.2.0
 * (shared/notes/AZURE-BATCH.md §3; STACK.md §6: a status code off by one class makes the SDK throw).
 */
export interface OperationRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  rawPath: string;
  body: Json;
  headers: Record<string, string | string[] | undefined>;
  baseUrl: string;
  errorJson: (err: BatchError) => Json;
}

export interface OperationResponse {
  status: number;
  json?: Json;
  stream?: Readable;
  headers?: Record<string, string>;
}

export interface Operation {
  name: string;
  method: "GET" | "HEAD" | "POST" | "DELETE" | "PATCH" | "PUT";
  /** Path pattern; `{name}` is one segment, `{path+}` the rest. */
  path: string;
  /** Query parameters accepted besides api-version and timeout. */
  query?: readonly string[];
  /** Whether the operation reads a JSON body. */
  body?: boolean;
  /** Largest body accepted, when smaller than the emulator's default. */
  maxBodyBytes?: number;
  /** Conditional headers the operation honours itself; any other gets 400 UnsupportedHeader. */
  conditionalHeaders?: readonly string[];
  handle: (account: BatchAccount, req: OperationRequest) => OperationResponse | Promise<OperationResponse>;
}

const LIST_QUERY = ["$filter", "$select", "$expand", "maxresults", "$skiptoken"] as const;

const metadata = (base: string, set: string) => `${base}/$metadata#${set}`;

function stampHeaders(resource: { eTag: string; lastModified: Date }, dataServiceId?: string): Record<string, string> {
  const headers: Record<string, string> = { ETag: resource.eTag, "Last-Modified": resource.lastModified.toUTCString() };
  if (dataServiceId !== undefined) headers.DataServiceId = dataServiceId;
  return headers;
}

function list<T>(
  req: OperationRequest,
  set: string,
  items: readonly T[],
  idOf: (item: T) => string,
  schema: Parameters<typeof page<T>>[3],
  allowed: ReadonlySet<string>,
  wire: (item: T) => Json,
): OperationResponse {
  refuseExpand(req.query);
  const select = parseSelect(req.query.get("$select"), allowed);
  const result = page(items, idOf, req.query, schema);
  const json: Json = { "odata.metadata": metadata(req.baseUrl, set), value: result.items.map((item) => applySelect(wire(item), select)) };
  if (result.continueAfter !== undefined) json["odata.nextLink"] = nextLink(req.baseUrl, req.rawPath, req.query, result.continueAfter);
  return { status: 200, json };
}

function single(req: OperationRequest, set: string, wire: Json, allowed: ReadonlySet<string>, stamp?: { eTag: string; lastModified: Date }): OperationResponse {
  refuseExpand(req.query);
  const select = parseSelect(req.query.get("$select"), allowed);
  return { status: 200, json: { "odata.metadata": metadata(req.baseUrl, `${set}/@Element`), ...applySelect(wire, select) }, ...(stamp === undefined ? {} : { headers: stampHeaders(stamp) }) };
}

/** Resolves a task file path inside the task directory; anything leaving it is "not found". */
async function taskFile(account: BatchAccount, req: OperationRequest) {
  const task = account.getTask(req.params.jobId ?? "", req.params.taskId ?? "");
  const dir = account.taskDir(task);
  if (dir === undefined) throw errors.taskFilesUnavailable();
  const filePath = req.params.path ?? "";
  const target = resolve(dir, filePath);
  if (target !== dir && !target.startsWith(dir + sep)) throw errors.fileNotFound();
  const info = await stat(target).catch(() => undefined);
  if (info === undefined) throw errors.fileNotFound();
  const url = `${req.baseUrl}/jobs/${task.job.id}/tasks/${task.id}/files/${filePath}`;
  const headers: Record<string, string> = {
    "ocp-creation-time": info.birthtime.toUTCString(),
    "ocp-batch-file-isdirectory": String(info.isDirectory()),
    "ocp-batch-file-url": url,
    "ocp-batch-file-mode": (info.mode & 0o777777).toString(8),
    "Last-Modified": info.mtime.toUTCString(),
  };
  return { target, info, headers };
}

function range(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (m === null) throw errors.invalidRange();
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw errors.invalidRange();
  return { start, end };
}

const p = (req: OperationRequest, name: string) => req.params[name] ?? "";

export const operations: readonly Operation[] = [
  // ---------------------------------------------------------------- pools
  {
    name: "Pool_Add",
    method: "POST",
    path: "/pools",
    body: true,
    handle: (account, req) => {
      const pool = account.addPool(req.body);
      return { status: 201, headers: stampHeaders(pool, `${req.baseUrl}/pools/${pool.id}`) };
    },
  },
  {
    name: "Pool_List",
    method: "GET",
    path: "/pools",
    query: LIST_QUERY,
    handle: (account, req) => list(req, "pools", [...account.pools.values()], (x) => x.id, poolFilter, selectable.pool, (x) => account.wire.pool(x)),
  },
  {
    name: "Pool_Get",
    method: "GET",
    path: "/pools/{poolId}",
    query: ["$select", "$expand"],
    handle: (account, req) => {
      const pool = account.getPool(p(req, "poolId"));
      return single(req, "pools", account.wire.pool(pool), selectable.pool, pool);
    },
  },
  {
    name: "Pool_Exists",
    method: "HEAD",
    path: "/pools/{poolId}",
    handle: (account, req) => ({ status: 200, headers: stampHeaders(account.getPool(p(req, "poolId"))) }),
  },
  {
    name: "Pool_Delete",
    method: "DELETE",
    path: "/pools/{poolId}",
    handle: (account, req) => {
      account.deletePool(p(req, "poolId"));
      return { status: 202 };
    },
  },
  {
    name: "Pool_Resize",
    method: "POST",
    path: "/pools/{poolId}/resize",
    body: true,
    handle: (account, req) => {
      account.resizePool(p(req, "poolId"), req.body);
      const pool = account.getPool(p(req, "poolId"));
      return { status: 202, headers: stampHeaders(pool, `${req.baseUrl}/pools/${pool.id}`) };
    },
  },
  {
    name: "Pool_StopResize",
    method: "POST",
    path: "/pools/{poolId}/stopresize",
    handle: (account, req) => {
      account.stopResize(p(req, "poolId"));
      const pool = account.getPool(p(req, "poolId"));
      return { status: 202, headers: stampHeaders(pool, `${req.baseUrl}/pools/${pool.id}`) };
    },
  },
  {
    name: "Pool_EnableAutoScale",
    method: "POST",
    path: "/pools/{poolId}/enableautoscale",
    body: true,
    handle: (account, req) => {
      account.enableAutoScale(p(req, "poolId"), req.body);
      const pool = account.getPool(p(req, "poolId"));
      return { status: 200, headers: stampHeaders(pool, `${req.baseUrl}/pools/${pool.id}`) };
    },
  },
  {
    name: "Pool_DisableAutoScale",
    method: "POST",
    path: "/pools/{poolId}/disableautoscale",
    handle: (account, req) => {
      account.disableAutoScale(p(req, "poolId"));
      const pool = account.getPool(p(req, "poolId"));
      return { status: 200, headers: stampHeaders(pool, `${req.baseUrl}/pools/${pool.id}`) };
    },
  },
  {
    name: "Pool_EvaluateAutoScale",
    method: "POST",
    path: "/pools/{poolId}/evaluateautoscale",
    body: true,
    handle: (account, req) => {
      const run = account.evaluateAutoScale(p(req, "poolId"), req.body);
      const pool = account.getPool(p(req, "poolId"));
      return { status: 200, json: { "odata.metadata": metadata(req.baseUrl, "Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun"), ...run }, headers: stampHeaders(pool, `${req.baseUrl}/pools/${pool.id}`) };
    },
  },
  {
    name: "ComputeNode_List",
    method: "GET",
    path: "/pools/{poolId}/nodes",
    query: LIST_QUERY,
    handle: (account, req) => {
      const pool = account.getPool(p(req, "poolId"));
      return list(req, "nodes", [...pool.nodes.values()], (x) => x.id, nodeFilter, selectable.node, (x) => account.wire.node(x));
    },
  },
  {
    name: "ComputeNode_Get",
    method: "GET",
    path: "/pools/{poolId}/nodes/{nodeId}",
    query: ["$select"],
    handle: (account, req) => single(req, "nodes", account.wire.node(account.getNode(p(req, "poolId"), p(req, "nodeId"))), selectable.node),
  },
  {
    name: "Account_ListPoolNodeCounts",
    method: "GET",
    path: "/nodecounts",
    query: ["$filter", "maxresults"],
    handle: (account, req) => {
      if (req.query.get("$filter") !== null) throw queryError("$filter", req.query.get("$filter") ?? "", "$filter on node counts is not emulated");
      const value = [...account.pools.values()].map((pool) => {
        const counts = (dedicated: boolean) => {
          const c: Record<string, number> = { creating: 0, idle: 0, offline: 0, preempted: 0, rebooting: 0, reimaging: 0, running: 0, starting: 0, startTaskFailed: 0, leavingPool: 0, unknown: 0, unusable: 0, waitingForStartTask: 0, total: 0 };
          for (const node of pool.nodes.values()) {
            if (node.isDedicated !== dedicated) continue;
            c[node.state] = (c[node.state] ?? 0) + 1;
            c.total = (c.total ?? 0) + 1;
          }
          return c;
        };
        return { poolId: pool.id, dedicated: counts(true), lowPriority: counts(false) };
      });
      return { status: 200, json: { "odata.metadata": metadata(req.baseUrl, "poolnodecounts"), value } };
    },
  },
  // ---------------------------------------------------------------- jobs
  {
    name: "Job_Add",
    method: "POST",
    path: "/jobs",
    body: true,
    handle: (account, req) => {
      const job = account.addJob(req.body);
      return { status: 201, headers: stampHeaders(job, `${req.baseUrl}/jobs/${job.id}`) };
    },
  },
  {
    name: "Job_List",
    method: "GET",
    path: "/jobs",
    query: LIST_QUERY,
    handle: (account, req) => list(req, "jobs", [...account.jobs.values()], (x) => x.id, jobFilter, selectable.job, (x) => account.wire.job(x)),
  },
  {
    name: "Job_Get",
    method: "GET",
    path: "/jobs/{jobId}",
    query: ["$select", "$expand"],
    handle: (account, req) => {
      const job = account.getJob(p(req, "jobId"));
      return single(req, "jobs", account.wire.job(job), selectable.job, job);
    },
  },
  {
    name: "Job_Delete",
    method: "DELETE",
    path: "/jobs/{jobId}",
    handle: (account, req) => {
      account.deleteJob(p(req, "jobId"));
      return { status: 202 };
    },
  },
  {
    name: "Job_Terminate",
    method: "POST",
    path: "/jobs/{jobId}/terminate",
    body: true,
    handle: (account, req) => {
      account.terminateJob(p(req, "jobId"), req.body);
      const job = account.getJob(p(req, "jobId"));
      return { status: 202, headers: stampHeaders(job, `${req.baseUrl}/jobs/${job.id}`) };
    },
  },
  {
    name: "Job_GetTaskCounts",
    method: "GET",
    path: "/jobs/{jobId}/taskcounts",
    handle: (account, req) => ({ status: 200, json: { "odata.metadata": metadata(req.baseUrl, "taskcountsresult/@Element"), ...account.taskCounts(p(req, "jobId")) } }),
  },
  // ---------------------------------------------------------------- tasks
  {
    name: "Task_Add",
    method: "POST",
    path: "/jobs/{jobId}/tasks",
    body: true,
    handle: (account, req) => {
      const task = account.addTask(p(req, "jobId"), req.body);
      return { status: 201, headers: stampHeaders(task, `${req.baseUrl}/jobs/${task.job.id}/tasks/${task.id}`) };
    },
  },
  {
    name: "Task_AddCollection",
    method: "POST",
    path: "/jobs/{jobId}/addtaskcollection",
    body: true,
    // §3: the serialized collection must be under 1 MB, else 413 RequestBodyTooLarge.
    maxBodyBytes: 1024 * 1024 - 1,
    handle: (account, req) => {
      const value = account.addTaskCollection(p(req, "jobId"), req.body, (err) => req.errorJson(err));
      return { status: 200, json: { "odata.metadata": metadata(req.baseUrl, "Microsoft.Azure.Batch.Protocol.Entities.TaskAddCollectionResult"), value } };
    },
  },
  {
    name: "Task_List",
    method: "GET",
    path: "/jobs/{jobId}/tasks",
    query: LIST_QUERY,
    handle: (account, req) => list(req, "tasks", account.listTasks(p(req, "jobId")), (x) => x.id, taskFilter, selectable.task, (x) => account.wire.task(x)),
  },
  {
    name: "Task_Get",
    method: "GET",
    path: "/jobs/{jobId}/tasks/{taskId}",
    query: ["$select", "$expand"],
    handle: (account, req) => {
      account.jobForTasks(p(req, "jobId"));
      const task = account.getTask(p(req, "jobId"), p(req, "taskId"));
      return single(req, "tasks", account.wire.task(task), selectable.task, task);
    },
  },
  {
    name: "Task_Terminate",
    method: "POST",
    path: "/jobs/{jobId}/tasks/{taskId}/terminate",
    handle: (account, req) => {
      account.terminateTask(p(req, "jobId"), p(req, "taskId"));
      const task = account.getTask(p(req, "jobId"), p(req, "taskId"));
      return { status: 204, headers: stampHeaders(task, `${req.baseUrl}/jobs/${task.job.id}/tasks/${task.id}`) };
    },
  },
  {
    name: "Task_Delete",
    method: "DELETE",
    path: "/jobs/{jobId}/tasks/{taskId}",
    conditionalHeaders: ["if-match"],
    handle: (account, req) => {
      const ifMatch = req.headers["if-match"];
      if (typeof ifMatch === "string" && account.getTask(p(req, "jobId"), p(req, "taskId")).eTag !== ifMatch) throw errors.conditionNotMet();
      account.deleteTask(p(req, "jobId"), p(req, "taskId"));
      return { status: 200 };
    },
  },
  // ---------------------------------------------------------------- files
  {
    name: "File_ListFromTask",
    method: "GET",
    path: "/jobs/{jobId}/tasks/{taskId}/files",
    query: ["recursive", "maxresults", "$filter", "$skiptoken"],
    handle: async (account, req) => {
      if (req.query.get("$filter") !== null) throw queryError("$filter", req.query.get("$filter") ?? "", "$filter on files is not emulated");
      const task = account.getTask(p(req, "jobId"), p(req, "taskId"));
      const dir = account.taskDir(task);
      if (dir === undefined) throw errors.taskFilesUnavailable();
      const recursive = req.query.get("recursive") === "true";
      const entries = await readdir(dir, { recursive, withFileTypes: true }).catch(() => []);
      const value: Json[] = [];
      for (const entry of entries) {
        const full = join(entry.parentPath ?? dir, entry.name);
        const name = relative(dir, full).split(sep).join("/");
        const info = await stat(full).catch(() => undefined);
        if (info === undefined) continue;
        value.push({
          name,
          url: `${req.baseUrl}/jobs/${task.job.id}/tasks/${task.id}/files/${name}`,
          isDirectory: info.isDirectory(),
          properties: {
            creationTime: batchTime(info.birthtime),
            lastModified: batchTime(info.mtime),
            contentLength: info.isDirectory() ? 0 : info.size,
            contentType: "application/octet-stream",
            fileMode: (info.mode & 0o777777).toString(8),
          },
        });
      }
      const result = page(value, (x) => x.name as string, req.query, {});
      const json: Json = { "odata.metadata": metadata(req.baseUrl, "files"), value: result.items };
      if (result.continueAfter !== undefined) json["odata.nextLink"] = nextLink(req.baseUrl, req.rawPath, req.query, result.continueAfter);
      return { status: 200, json };
    },
  },
  {
    name: "File_GetFromTask",
    method: "GET",
    path: "/jobs/{jobId}/tasks/{taskId}/files/{path+}",
    handle: async (account, req) => {
      const file = await taskFile(account, req);
      if (file.info.isDirectory()) throw errors.fileNotFound();
      const header = req.headers["ocp-range"];
      const r = range(Array.isArray(header) ? header[0] : header, file.info.size);
      const length = r === undefined ? file.info.size : r.end - r.start + 1;
      return {
        status: 200,
        headers: { ...file.headers, "Content-Type": "application/octet-stream", "Content-Length": String(length) },
        stream: createReadStream(file.target, r === undefined ? {} : { start: r.start, end: r.end }),
      };
    },
  },
  {
    name: "File_GetPropertiesFromTask",
    method: "HEAD",
    path: "/jobs/{jobId}/tasks/{taskId}/files/{path+}",
    handle: async (account, req) => {
      const file = await taskFile(account, req);
      return {
        status: 200,
        headers: { ...file.headers, "Content-Type": "application/octet-stream", "Content-Length": String(file.info.isDirectory() ? 0 : file.info.size) },
      };
    },
  },
];
