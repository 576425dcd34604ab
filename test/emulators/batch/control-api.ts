import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorFaults } from "./batch-emulator.js";

/**
 * The emulator's own HTTP control endpoints under /_emulator/, for manual use through the CLI
 * (tests use the programmatic handle). Not Batch surface, and unauthenticated: the CLI serves
 * them on loopback only when asked.
 *
 *   GET    /_emulator/counts                       requests served, by operation
 *   POST   /_emulator/faults/http        {HttpFault}
 *   POST   /_emulator/faults/allocation  {AllocationFault}
 *   POST   /_emulator/faults/task        {TaskFault}
 *   POST   /_emulator/preempt            {poolId, nodeId?, recoverAfterMs?}
 *   POST   /_emulator/quotas             {dedicatedCores?, lowPriorityCores?, pools?, activeJobs?}
 *   DELETE /_emulator/faults
 */
export const CONTROL_PREFIX = "/_emulator/";

export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  handle: { counts(): Record<string, number>; faults: EmulatorFaults },
): Promise<void> {
  const reply = (status: number, body: unknown) => {
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) });
    res.end(text);
  };
  const path = (req.url ?? "").split("?")[0] ?? "";
  let body: Record<string, unknown> = {};
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (text !== "") body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    reply(400, { error: "the body is not JSON" });
    return;
  }
  try {
    const route = `${req.method} ${path}`;
    switch (route) {
      case "GET /_emulator/counts":
        return reply(200, handle.counts());
      case "POST /_emulator/faults/http":
        handle.faults.http(body as never);
        return reply(204, {});
      case "POST /_emulator/faults/allocation":
        handle.faults.allocation(body as never);
        return reply(204, {});
      case "POST /_emulator/faults/task":
        handle.faults.task(body as never);
        return reply(204, {});
      case "POST /_emulator/preempt": {
        if (typeof body.poolId !== "string") return reply(400, { error: "poolId is required" });
        const nodeId = handle.faults.preemptNode(body.poolId, {
          ...(typeof body.nodeId === "string" ? { nodeId: body.nodeId } : {}),
          ...(typeof body.recoverAfterMs === "number" ? { recoverAfterMs: body.recoverAfterMs } : {}),
        });
        return reply(200, { nodeId });
      }
      case "POST /_emulator/quotas":
        handle.faults.setQuotas(body as never);
        return reply(204, {});
      case "DELETE /_emulator/faults":
        handle.faults.clear();
        return reply(204, {});
      default:
        return reply(404, { error: `no control endpoint ${route}` });
    }
  } catch (err) {
    return reply(400, { error: err instanceof Error ? err.message : String(err) });
  }
}
