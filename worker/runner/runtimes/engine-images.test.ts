import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ExecutorSchema, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { parseResultDocument, toResultDocument } from "../result-document.js";
import { runTask } from "../run-task.js";
import { ImagePullError } from "./container-runtime.js";
import { EngineRuntime } from "./engine-runtime.js";

/**
 * The explicit pull, through a real `docker` client, against a stand-in of the Docker Engine API on a
 * unix socket (no engine runs here). The stand-in answers as the Engine API reference documents
 * (https://docs.docker.com/engine/api/v1.41/, Image operations):
 * - ImageInspect, GET /images/{name}/json: 200 with the image, 404 `{"message":"No such image: …"}`.
 * - ImageCreate, POST /images/create?fromImage=…&tag=…, credentials in X-Registry-Auth: 200 with a
 *   stream of JSON progress objects, in which a failure during the pull is an object with `error` and
 *   `errorDetail.message`; 404 "repository does not exist or no read access" and 500 "server error",
 *   both as the ErrorResponse `{"message":"…"}`.
 * The client negotiates the API version through /_ping (its Api-Version header).
 */
type PullAnswer = { kind: "pulled" } | { kind: "stream-error"; message: string } | { kind: "status"; status: 404 | 500; message: string } | { kind: "hang" };

interface EngineRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  registryAuth: string | undefined;
}

/** Images the engine has, by the name the client asks for (`repo:tag`). */
let present = new Set<string>();
/** How a pull of `repo:tag` is answered; pulled when not listed. */
let pulls = new Map<string, PullAnswer>();
let requests: EngineRequest[] = [];
const hanging: ServerResponse[] = [];

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "Content-Type": "application/json" }).end(`${JSON.stringify(body)}\n`);

const engine: Server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://engine");
  // The client prefixes the negotiated version: /v1.41/images/…
  const apiPath = url.pathname.replace(/^\/v\d+\.\d+/, "");
  requests.push({ method: req.method ?? "", path: apiPath, query: url.searchParams, registryAuth: req.headers["x-registry-auth"] as string | undefined });
  if (apiPath === "/_ping") return res.writeHead(200, { "Api-Version": "1.41", "Content-Type": "text/plain" }).end("OK");
  const inspect = /^\/images\/(.+)\/json$/.exec(apiPath);
  if (req.method === "GET" && inspect !== null) {
    const name = decodeURIComponent(inspect[1] ?? "");
    if (present.has(name)) return json(res, 200, { Id: `sha256:${"a".repeat(64)}`, RepoTags: [name] });
    return json(res, 404, { message: `No such image: ${name}` });
  }
  if (req.method === "POST" && apiPath === "/images/create") {
    const name = `${url.searchParams.get("fromImage")}:${url.searchParams.get("tag")}`;
    const answer = pulls.get(name) ?? { kind: "pulled" };
    if (answer.kind === "hang") return void hanging.push(res.writeHead(200, { "Content-Type": "application/json" }));
    if (answer.kind === "status") return json(res, answer.status, { message: answer.message });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.write(`${JSON.stringify({ status: `Pulling from ${url.searchParams.get("fromImage")}`, id: url.searchParams.get("tag") })}\n`);
    if (answer.kind === "stream-error") return res.end(`${JSON.stringify({ errorDetail: { message: answer.message }, error: answer.message })}\n`);
    present.add(name);
    return res.end(`${JSON.stringify({ status: `Status: Downloaded newer image for ${name}` })}\n`);
  }
  json(res, 404, { message: "page not found" });
});

let scratch: string;
let socket: string;
let dockerConfig: string;
let docker: EngineRuntime;
const PASSWORD = "robot-password-SECRET";

before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "tes-engine-images-"));
  socket = path.join(scratch, "docker.sock");
  await new Promise<void>((resolve) => engine.listen(socket, resolve));
  // The runner's own Docker config, as registry-login/ writes it.
  dockerConfig = path.join(scratch, "docker-config");
  await mkdir(dockerConfig, { mode: 0o700 });
  await writeFile(path.join(dockerConfig, "config.json"), JSON.stringify({ auths: { "registry.example.com": { auth: Buffer.from(`robot:${PASSWORD}`).toString("base64") } } }), { mode: 0o600 });
  docker = new EngineRuntime("docker", await dockerClient(), { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig });
});
beforeEach(() => {
  present = new Set();
  pulls = new Map();
  requests = [];
});
after(async () => {
  for (const res of hanging) res.destroy();
  await new Promise((resolve) => engine.close(resolve));
  await rm(scratch, { recursive: true, force: true });
});

async function dockerClient(): Promise<string> {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = path.join(dir, "docker");
    if (await access(candidate).then(() => true, () => false)) return candidate;
  }
  throw new Error("the docker client is needed for this test (Debian package docker-ce-cli or docker.io)");
}

const pullsOf = () => requests.filter((r) => r.path === "/images/create").map((r) => `${r.query.get("fromImage")}:${r.query.get("tag")}`);
const never = new AbortController().signal;

async function pullFailure(promise: Promise<void>): Promise<ImagePullError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ImagePullError, `expected an ImagePullError, got ${String(error)}`);
    return error;
  }
  assert.fail("the images were had");
}

describe("docker pulls only the images the engine lacks", () => {
  test("a present image is not pulled; a missing one is pulled with the runner's registry credentials", async () => {
    present.add("registry.example.com/team/tool:1");
    await docker.ensureImages(["registry.example.com/team/tool:1", "registry.example.com/team/other:2", "registry.example.com/team/tool:1"], never);
    assert.deepEqual(pullsOf(), ["registry.example.com/team/other:2"]);
    const auth = JSON.parse(Buffer.from(requests.find((r) => r.path === "/images/create")?.registryAuth ?? "", "base64url").toString("utf8")) as Record<string, string>;
    assert.deepEqual({ username: auth.username, password: auth.password }, { username: "robot", password: PASSWORD });
    // The same image twice is looked at once.
    assert.equal(requests.filter((r) => r.path === "/images/registry.example.com/team/tool:1/json").length, 1);
  });
});

describe("a pull that fails names the image and the engine's reason", () => {
  test("repository not found or no read access (ImageCreate 404)", async () => {
    pulls.set("registry.example.com/team/nope:1", { kind: "status", status: 404, message: "pull access denied for registry.example.com/team/nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied" });
    const error = await pullFailure(docker.ensureImages(["registry.example.com/team/nope:1"], never));
    assert.equal(error.image, "registry.example.com/team/nope:1");
    assert.equal(
      error.message,
      "pulling the image registry.example.com/team/nope:1 failed: Error response from daemon: pull access denied for registry.example.com/team/nope, " +
        "repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
    );
  });

  test("registry sign-in refused during the pull (an error object in ImageCreate's 200 stream)", async () => {
    pulls.set("registry.example.com/team/tool:1", { kind: "stream-error", message: "unauthorized: authentication required" });
    const error = await pullFailure(docker.ensureImages(["registry.example.com/team/tool:1"], never));
    assert.equal(error.message, "pulling the image registry.example.com/team/tool:1 failed: unauthorized: authentication required");
  });

  test("registry unreachable (ImageCreate 500): the URL the engine quotes loses its query and user info", async () => {
    pulls.set("registry.example.com/team/tool:1", { kind: "status", status: 500, message: 'Get "https://user:pw-SECRET@registry.example.com/v2/token?scope=repository&sig=sig-SECRET": dial tcp 10.0.0.1:443: connect: connection refused' });
    const error = await pullFailure(docker.ensureImages(["registry.example.com/team/tool:1"], never));
    assert.match(error.message, /^pulling the image registry\.example\.com\/team\/tool:1 failed: Error response from daemon: Get "https:\/\/registry\.example\.com\/v2\/token\?…": dial tcp 10\.0\.0\.1:443: connect: connection refused$/);
    assert.ok(!error.message.includes("SECRET"));
  });

  test("an engine that does not answer at all", async () => {
    const nowhere = new EngineRuntime("docker", await dockerClient(), { DOCKER_HOST: `unix://${path.join(scratch, "no-engine.sock")}`, DOCKER_CONFIG: dockerConfig });
    const error = await pullFailure(nowhere.ensureImages(["alpine:3"], never));
    assert.match(error.message, /^pulling the image alpine:3 failed: .*Cannot connect to the Docker daemon/);
  });

  test("an image named like a flag is taken as an image, never as an option of the client", async () => {
    const error = await pullFailure(docker.ensureImages(["--all-tags"], never));
    assert.equal(error.image, "--all-tags");
    assert.match(error.message, /^pulling the image --all-tags failed: .*invalid reference format/);
    assert.deepEqual(pullsOf(), []);
  });

  test("a cancel stops a pull that hangs", async () => {
    pulls.set("registry.example.com/team/slow:1", { kind: "hang" });
    const abort = new AbortController();
    const pulling = docker.ensureImages(["registry.example.com/team/slow:1"], abort.signal);
    while (!pullsOf().includes("registry.example.com/team/slow:1")) await new Promise((resolve) => setTimeout(resolve, 20));
    abort.abort();
    await assert.rejects(pulling, (error: Error) => !(error instanceof ImagePullError));
  });
});

describe("in the runner's sequence", () => {
  const executor = (image: string) => create(ExecutorSchema, { image, command: ["/bin/sh", "-c", "echo ran"] });
  const attempt = async (images: string[], signal?: AbortSignal) => {
    const workDir = await mkdtemp(path.join(scratch, "attempt-"));
    return runTask(create(TaskSchema, { executors: images.map(executor) }), {
      workDir,
      attemptId: path.basename(workDir),
      runtime: async () => docker,
      tailBytes: 1024,
      ...(signal === undefined ? {} : { signal }),
    });
  };

  test("a later executor's missing image ends the attempt as a system error before any executor runs", async () => {
    present.add("registry.example.com/team/tool:1");
    pulls.set("registry.example.com/team/missing:1", { kind: "status", status: 404, message: "manifest for registry.example.com/team/missing:1 not found: manifest unknown: manifest unknown" });
    const result = await attempt(["registry.example.com/team/tool:1", "registry.example.com/team/missing:1"]);

    assert.equal(result.outcome, "system_error");
    assert.deepEqual(result.executors, []);
    assert.deepEqual(result.systemLogs, [
      "pulling the image registry.example.com/team/missing:1 failed: Error response from daemon: manifest for registry.example.com/team/missing:1 not found: manifest unknown: manifest unknown",
    ]);
    // No container was ever asked for.
    assert.deepEqual(requests.filter((r) => r.path.startsWith("/containers/")), []);
    // The result document the Batch backend reads back says the same (and the worker maps system_error to SYSTEM_ERROR).
    const reread = parseResultDocument(JSON.stringify(toResultDocument(result)));
    assert.equal(reread.outcome, "system_error");
    assert.deepEqual(reread.executors, []);
    assert.deepEqual(reread.systemLogs, result.systemLogs);
  });

  test("a cancel during the pull ends the attempt as canceled, with no executor run", async () => {
    pulls.set("registry.example.com/team/slow:1", { kind: "hang" });
    const abort = new AbortController();
    const running = attempt(["registry.example.com/team/slow:1"], abort.signal);
    while (!pullsOf().includes("registry.example.com/team/slow:1")) await new Promise((resolve) => setTimeout(resolve, 20));
    abort.abort();
    const result = await running;
    assert.equal(result.outcome, "canceled");
    assert.deepEqual(result.executors, []);
  });
});
