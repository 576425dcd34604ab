/** What CreateTask stores (and GetTask reads back) in the benches: a task with files, resources and tags, as clients send. */
export const BENCH_TASK_JSON = JSON.stringify({
  name: "bench-task",
  inputs: [{ path: "/in/a.txt", url: "file:///data/a.txt" }],
  outputs: [{ path: "/out/b.txt", url: "file:///data/b.txt" }],
  executors: [{ image: "alpine", command: ["sh", "-c", "cat /in/a.txt > /out/b.txt"] }],
  resources: { cpu_cores: 1, ram_gb: 1 },
  tags: { project: "bench" },
});

/** Creates `body` (default the bench task) over REST on the server at `baseUrl`, and answers its id; throws if it is refused. */
export async function createBenchTask(baseUrl: string, options: { body?: string; headers?: Record<string, string> } = {}): Promise<string> {
  const created = await fetch(`${baseUrl}/ga4gh/tes/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: options.body ?? BENCH_TASK_JSON,
  });
  if (!created.ok) throw new Error(`creating the bench task failed: HTTP ${created.status}`);
  const { id } = (await created.json()) as { id: string };
  return id;
}
