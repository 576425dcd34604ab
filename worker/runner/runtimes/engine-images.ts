import { execFile } from "node:child_process";
import { redactUrlsIn } from "../redact-url.js";
import { ImagePullError } from "./container-runtime.js";

/** The longest engine reason kept for system_logs; a registry can answer with a whole HTML page. */
const REASON_MAX_CHARS = 500;

export interface EngineClient {
  /** The client's absolute path. */
  command: string;
  /** Its whole environment: engine settings and the runner's registry credentials (DOCKER_CONFIG, REGISTRY_AUTH_FILE). */
  env: NodeJS.ProcessEnv;
}

/**
 * Pull policy "missing": an image the engine already has is used as it is; any other is pulled, one
 * after another in the task's order, before any executor runs. This is what `docker run` and
 * `podman run` do by default, so which image runs is unchanged; only a failure is now reported as the
 * system's, naming the image, instead of as the executor's exit code 125.
 *
 * `image inspect` failing for any reason (no such image, or an engine that does not answer) leads to
 * the pull, whose error then says why.
 */
export async function ensureEngineImages(client: EngineClient, images: readonly string[], signal: AbortSignal): Promise<void> {
  for (const image of new Set(images)) {
    if (signal.aborted) throw signal.reason;
    if ((await runClient(client, ["image", "inspect", "--format", "{{.Id}}", "--", image], signal)).ok) continue;
    const pulled = await runClient(client, ["pull", "--quiet", "--", image], signal);
    if (signal.aborted) throw signal.reason;
    if (!pulled.ok) throw new ImagePullError(image, engineReason(pulled.stderr, pulled.exitCode));
  }
}

function runClient(client: EngineClient, args: string[], signal: AbortSignal): Promise<{ ok: boolean; stderr: string; exitCode: number | string | undefined }> {
  return new Promise((resolve) => {
    execFile(client.command, args, { env: client.env, signal, maxBuffer: 4 * 1024 * 1024 }, (error, _stdout, stderr) =>
      resolve({ ok: error === null, stderr: String(stderr), exitCode: error?.code ?? undefined }),
    );
  });
}

/**
 * The client's error as one line: the engine's message ("Error response from daemon: pull access
 * denied for …", "unauthorized: authentication required"), with every URL's user, password and query
 * removed (a registry's token realm or a presigned blob URL can be quoted), and bounded in length.
 */
function engineReason(stderr: string, exitCode: number | string | undefined): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const text = redactUrlsIn(lines.join("; "));
  if (text === "") return `the client exited with code ${exitCode ?? "unknown"} and said nothing`;
  return text.length > REASON_MAX_CHARS ? `${text.slice(0, REASON_MAX_CHARS)}…` : text;
}
