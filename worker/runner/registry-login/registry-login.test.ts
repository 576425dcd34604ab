import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ExecutorSchema, TaskSchema } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { runTask } from "../run-task.js";
import { detectRuntime } from "../runtimes/detect-runtime.js";
import { ACR_TOKEN_USERNAME, type AcrEndpoints } from "./acr-token.js";
import { RegistryLogin } from "./registry-login.js";
import { parseRegistryLogins } from "./registry-logins.js";

/**
 * The runner's registry sign-in against stand-ins for the two Azure services it calls, real HTTP
 * servers answering as documented (acr-token.ts): IMDS's managed identity token endpoint and an ACR
 * registry's `/oauth2/exchange`. They record what they were sent, so the tests pin the request
 * shapes too. A real `docker` client then shows it finds the credentials where we put them.
 */
const IDENTITY = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/** An Entra access token's shape: header.payload.signature, the payload naming its tenant. */
const AAD_TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: "https://management.azure.com/", tid: TENANT })).toString("base64url")}.c2lnbmF0dXJl`;
const REFRESH_TOKEN = "acr-refresh-token-SECRET";
const PASSWORD = "robot-password-SECRET";

interface Recorded {
  url: URL;
  headers: IncomingMessage["headers"];
  body: string;
}

/** What the stand-ins answer next; each test sets it. */
let imdsAnswers: { status: number; body: unknown }[] = [];
let exchangeAnswer: { status: number; body: unknown } = { status: 200, body: {} };
const imdsRequests: Recorded[] = [];
const exchangeRequests: Recorded[] = [];

function standIn(onRequest: (recorded: Recorded) => { status: number; body: unknown }): Server {
  return createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const answer = onRequest({ url: new URL(req.url ?? "/", "http://stand-in"), headers: req.headers, body });
      res.writeHead(answer.status, { "Content-Type": "application/json; charset=utf-8" }).end(JSON.stringify(answer.body));
    });
  });
}

/** IMDS as documented: only GET /metadata/identity/oauth2/token with `Metadata: true`. */
const imds = standIn((recorded) => {
  imdsRequests.push(recorded);
  if (recorded.url.pathname !== "/metadata/identity/oauth2/token") return { status: 404, body: { error: "not_found" } };
  if (recorded.headers.metadata !== "true") return { status: 400, body: { error: "invalid_request", error_description: "Required metadata header not specified" } };
  return imdsAnswers.shift() ?? { status: 500, body: { error: "unexpected" } };
});

/** An ACR registry's token exchange: POST /oauth2/exchange, form data. */
const registry = standIn((recorded) => {
  exchangeRequests.push(recorded);
  if (recorded.url.pathname !== "/oauth2/exchange") return { status: 404, body: { errors: [{ code: "NOT_FOUND", message: "not found" }] } };
  return exchangeAnswer;
});

const tokenAnswer = () => ({
  status: 200,
  body: { access_token: AAD_TOKEN, refresh_token: "", expires_in: "86399", expires_on: `${Math.floor(Date.now() / 1000) + 86399}`, not_before: `${Math.floor(Date.now() / 1000)}`, resource: "https://management.azure.com/", token_type: "Bearer" },
});
const identityNotFound = () => ({ status: 400, body: { error: "invalid_request", error_description: "Identity not found" } });

let endpoints: AcrEndpoints;
let registryHost: string;
const logins: RegistryLogin[] = [];
async function login(entries: Parameters<typeof RegistryLogin.create>[0], options?: Parameters<typeof RegistryLogin.create>[2]): Promise<RegistryLogin> {
  const made = await RegistryLogin.create(entries, endpoints, options);
  logins.push(made);
  return made;
}
const configOf = async (made: RegistryLogin) => JSON.parse(await readFile(path.join(made.dockerConfigDir, "config.json"), "utf8")) as { auths: Record<string, { auth: string }> };
const decode = (auth: string | undefined) => Buffer.from(auth ?? "", "base64").toString("utf8");

before(async () => {
  await Promise.all([imds, registry].map((server) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))));
  registryHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
  endpoints = { imdsUrl: `http://127.0.0.1:${(imds.address() as AddressInfo).port}`, registryUrl: (server) => `http://${server}`, imdsRetryDelaysMs: [10, 10], timeoutMs: 5000 };
});
beforeEach(() => {
  imdsAnswers = [];
  imdsRequests.length = 0;
  exchangeRequests.length = 0;
  exchangeAnswer = { status: 200, body: { refresh_token: REFRESH_TOKEN } };
});
after(async () => {
  await Promise.all(logins.map((made) => made.dispose()));
  await Promise.all([imds, registry].map((server) => new Promise((resolve) => server.close(resolve))));
});

describe("ACR through the node's managed identity", () => {
  test("an IMDS token for the identity is exchanged for an ACR refresh token, written as the null-GUID user's password", async () => {
    imdsAnswers = [tokenAnswer()];
    const made = await login([{ server: registryHost, identityResourceId: IDENTITY }]);
    await made.refresh();

    const [token] = imdsRequests;
    assert.equal(imdsRequests.length, 1);
    assert.equal(token?.url.searchParams.get("api-version"), "2018-02-01");
    assert.equal(token?.url.searchParams.get("resource"), "https://management.azure.com/");
    assert.equal(token?.url.searchParams.get("mi_res_id"), IDENTITY);
    const [exchange] = exchangeRequests;
    assert.equal(exchange?.headers["content-type"], "application/x-www-form-urlencoded");
    const form = new URLSearchParams(exchange?.body);
    assert.deepEqual(Object.fromEntries(form), { grant_type: "access_token", service: registryHost, access_token: AAD_TOKEN, tenant: TENANT });

    const config = await configOf(made);
    assert.deepEqual(Object.keys(config.auths), [registryHost]);
    assert.equal(decode(config.auths[registryHost]?.auth), `${ACR_TOKEN_USERNAME}:${REFRESH_TOKEN}`);
    assert.deepEqual(made.clientEnv, { DOCKER_CONFIG: made.dockerConfigDir, REGISTRY_AUTH_FILE: path.join(made.dockerConfigDir, "config.json") });
    // Private to the runner's user.
    assert.equal((await stat(made.dockerConfigDir)).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(made.dockerConfigDir, "config.json"))).mode & 0o777, 0o600);
    await made.dispose();
    await assert.rejects(stat(made.dockerConfigDir), { code: "ENOENT" });
  });

  test("an identity the node does not have (IMDS 400) fails naming the identity and the reason, with no token", async () => {
    imdsAnswers = [identityNotFound()];
    const made = await login([{ server: registryHost, identityResourceId: IDENTITY }]);
    await assert.rejects(made.refresh(), (err: Error) => {
      assert.equal(err.name, "RegistryLoginError");
      assert.match(err.message, /managed identity acr-pull gave no token \(IMDS HTTP 400: Identity not found\); the pool's nodes need this user-assigned identity attached/);
      return true;
    });
    assert.equal(imdsRequests.length, 1, "a 400 is not retried");
    assert.equal(exchangeRequests.length, 0);
    await assert.rejects(stat(path.join(made.dockerConfigDir, "config.json")), { code: "ENOENT" });
  });

  test("IMDS 404 and 410 (updating) are retried; a 404 that lasts fails after the retries", async () => {
    imdsAnswers = [{ status: 404, body: { error: "not_found" } }, { status: 410, body: {} }, tokenAnswer()];
    const made = await login([{ server: registryHost, identityResourceId: IDENTITY }]);
    await made.refresh();
    assert.equal(imdsRequests.length, 3);
    assert.equal(decode((await configOf(made)).auths[registryHost]?.auth), `${ACR_TOKEN_USERNAME}:${REFRESH_TOKEN}`);

    imdsRequests.length = 0;
    imdsAnswers = [0, 1, 2].map(() => ({ status: 404, body: { error: "invalid_request", error_description: "Identity not found" } }));
    const other = await login([{ server: registryHost, identityResourceId: IDENTITY }]);
    await assert.rejects(other.refresh(), /IMDS HTTP 404: Identity not found/);
    assert.equal(imdsRequests.length, 3, "one try and two retries");
  });

  test("a token the registry refuses (exchange 401) fails naming the registry and AcrPull, never a token", async () => {
    imdsAnswers = [tokenAnswer()];
    exchangeAnswer = { status: 401, body: { errors: [{ code: "UNAUTHORIZED", message: "authentication required, visit https://aka.ms/acr/authorization for more information." }] } };
    const made = await login([{ server: registryHost, identityResourceId: IDENTITY }]);
    await assert.rejects(made.refresh(), (err: Error) => {
      assert.match(err.message, new RegExp(`the registry ${registryHost} refused the node identity's token \\(HTTP 401: authentication required`));
      assert.match(err.message, /AcrPull/);
      assert.ok(!err.message.includes(AAD_TOKEN));
      return true;
    });
  });

  test("signed in once, then again only after the refresh interval (ACR refresh tokens last about 3 hours)", async () => {
    let now = 1_000_000;
    imdsAnswers = [tokenAnswer(), tokenAnswer()];
    const made = await login([{ server: registryHost, identityResourceId: IDENTITY }], { refreshAfterMs: 3600_000, now: () => now });
    await made.refresh();
    now += 3599_000;
    await made.refresh();
    assert.equal(exchangeRequests.length, 1);
    now += 1000;
    exchangeAnswer = { status: 200, body: { refresh_token: "second-token" } };
    await made.refresh();
    assert.equal(exchangeRequests.length, 2);
    assert.equal(decode((await configOf(made)).auths[registryHost]?.auth), `${ACR_TOKEN_USERNAME}:second-token`);
  });
});

describe("user name and password registries", () => {
  test("written as given; Docker Hub under the key the Docker client looks it up by", async () => {
    const made = await login([
      { server: "registry.example.com", username: "robot", password: PASSWORD },
      { server: "docker.io", username: "hubuser", password: PASSWORD },
    ]);
    await made.refresh();
    const config = await configOf(made);
    assert.equal(decode(config.auths["registry.example.com"]?.auth), `robot:${PASSWORD}`);
    assert.equal(decode(config.auths["https://index.docker.io/v1/"]?.auth), `hubuser:${PASSWORD}`);
    assert.equal(imdsRequests.length, 0);
  });

  test("the logins document: fields checked, errors name the field and never a password", () => {
    assert.deepEqual(parseRegistryLogins(JSON.stringify({ version: 1, registries: [{ server: "myacr.azurecr.io", identityResourceId: IDENTITY }] })), [{ server: "myacr.azurecr.io", identityResourceId: IDENTITY }]);
    const refused = (doc: unknown, pattern: RegExp) =>
      assert.throws(() => parseRegistryLogins(JSON.stringify(doc)), (err: Error) => pattern.test(err.message) && !err.message.includes(PASSWORD), pattern.source);
    refused({ version: 2, registries: [] }, /version must be 1/);
    refused({ version: 1, registries: [{ server: "Not A Host", username: "u", password: PASSWORD }] }, /registries\[0\]\.server must be a registry host/);
    refused({ version: 1, registries: [{ server: "r.example.com", username: "u" }] }, /registries\[0\]\.password must be a non-empty string/);
    refused({ version: 1, registries: [{ server: "r.example.com", identityResourceId: IDENTITY, password: PASSWORD }] }, /registries\[0\] needs either identityResourceId, or username and password/);
    refused({ version: 1, registries: [{ server: "r.example.com", identityResourceId: "acr-pull" }] }, /identityResourceId must be a user-assigned identity's resource id/);
    refused({ version: 1, registries: [{ server: "r.example.com", username: "u", password: PASSWORD, token: PASSWORD }] }, /registries\[0\]\.token is not a known field/);
  });
});

describe("the container client uses the runner's credentials", () => {
  test("a real docker client, given DOCKER_CONFIG, sends them with a pull (to a stand-in engine API on a unix socket)", async () => {
    const made = await login([{ server: "registry.example.com", username: "robot", password: PASSWORD }]);
    await made.refresh();
    const dir = await mkdtemp(path.join(os.tmpdir(), "tes-engine-api-"));
    const socket = path.join(dir, "docker.sock");
    let registryAuth: string | undefined;
    // The Docker Engine API as the client uses it for a pull: ping, then images/create with X-Registry-Auth.
    const engine = createServer((req, res) => {
      if (req.url?.endsWith("/_ping")) return res.writeHead(200, { "Api-Version": "1.41", "Content-Type": "text/plain" }).end("OK");
      if (req.method === "POST" && req.url?.includes("/images/create?")) {
        registryAuth = req.headers["x-registry-auth"] as string | undefined;
        return res.writeHead(200, { "Content-Type": "application/json" }).end(`${JSON.stringify({ status: "Downloaded newer image" })}\n`);
      }
      res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ message: "not emulated" }));
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile("docker", ["pull", "registry.example.com/team/tool:1"], { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: made.dockerConfigDir } }, (error, _out, err) =>
          resolve({ code: error === null ? 0 : Number(error.code), stderr: err }),
        ),
      );
      assert.equal(code, 0, `the docker client is needed for this test: ${stderr}`);
      const auth = JSON.parse(Buffer.from(registryAuth ?? "", "base64url").toString("utf8")) as Record<string, string>;
      assert.deepEqual({ username: auth.username, password: auth.password, serveraddress: auth.serveraddress }, { username: "robot", password: PASSWORD, serveraddress: "registry.example.com" });
    } finally {
      await new Promise((resolve) => engine.close(resolve));
      await unlink(socket).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("in the runner's sequence", () => {
  test("a sign-in that fails before the images are pulled ends the attempt as a system error; the executor never runs", async () => {
    imdsAnswers = [identityNotFound()];
    const made = await login([{ server: registryHost, identityResourceId: IDENTITY }]);
    const workDir = await mkdtemp(path.join(os.tmpdir(), "tes-login-run-"));
    try {
      const task = create(TaskSchema, { executors: [create(ExecutorSchema, { image: `${registryHost}/tool:1`, command: ["/bin/sh", "-c", "exit 3"] })] });
      const result = await runTask(task, {
        workDir,
        attemptId: "login-fails",
        runtime: () => detectRuntime("bwrap", { network: false, limits: "rlimit", hiddenPaths: [] }),
        tailBytes: 1024,
        signInToRegistries: (_runtime, signal) => made.refresh(signal),
      });
      assert.equal(result.outcome, "system_error");
      assert.deepEqual(result.executors, []);
      assert.ok(result.systemLogs.some((line) => /signing in to the registries to pull the executors' images failed: .*Identity not found/.test(line)), result.systemLogs.join("\n"));
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
