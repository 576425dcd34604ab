import type { Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";

/**
 * What the Azure Batch backend refuses before a task is stored: local files (a `file://` URL or a
 * bare path), which a Batch node cannot reach; the server's own disk is not the node's. One
 * sentence per refused URL, naming the field; an empty answer means the task is admitted.
 */
export async function azureBatchObjections(task: Task): Promise<string[]> {
  const fields = [
    ...task.inputs.flatMap((input, index) => (input.content === "" ? [{ field: `inputs[${index}].url`, url: input.url }] : [])),
    ...task.outputs.map((output, index) => ({ field: `outputs[${index}].url`, url: output.url })),
  ];
  return fields
    .filter(({ url }) => url.startsWith("/") || /^file:/i.test(url))
    .map(({ field }) => `${field}: local files cannot be reached from Azure Batch nodes; use blob storage (https://<account>.blob.core.windows.net/...) or http(s)`);
}
