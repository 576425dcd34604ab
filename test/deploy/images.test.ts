import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { validate, ValidationSeverity } from "dockerfile-utils";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ keyword: string; args: string; line: number }> {
  const out: Array<{ keyword: string; args: string; line: number }> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*(#|$)/.test(lines[i]!)) continue;
    const start = i;
    let joined = lines[i]!;
    while (joined.trimEnd().endsWith("\\") && i + 1 < lines.length) joined = joined.trimEnd().slice(0, -1) + " " + lines[++i]!.trim();
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(joined);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 });
  }
  return out;
}

// No Docker engine runs here: the images are linted and their structure checked, never built.
describe("Dockerfiles (linted with dockerfile-utils, structure checked; not built here)", () => {
  for (const path of ["Dockerfile", "filetransfer/Dockerfile"]) {
    test(`${path}: no lint problem at all, every rule at error severity`, () => {
      const everyRule = {
        deprecatedMaintainer: ValidationSeverity.ERROR,
        directiveCasing: ValidationSeverity.ERROR,
        emptyContinuationLine: ValidationSeverity.ERROR,
        instructionCasing: ValidationSeverity.ERROR,
        instructionCmdMultiple: ValidationSeverity.ERROR,
        instructionEntrypointMultiple: ValidationSeverity.ERROR,
        instructionHealthcheckMultiple: ValidationSeverity.ERROR,
        instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
        instructionWorkdirRelative: ValidationSeverity.ERROR,
      };
      const problems = validate(read(path), everyRule);
      assert.deepEqual(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`), []);
    });

    test(`${path}: multi-stage, pinned Node 20 bases, runs as a non-root user, every COPY source exists`, () => {
      const steps = instructions(read(path));
      const froms = steps.filter((s) => s.keyword === "FROM");
      assert.ok(froms.length >= 2, "multi-stage");
      for (const from of froms) assert.match(from.args, /^node:20[.\-\w]*(\s+AS\s+\S+)?$/i, `pinned Node 20 base: ${from.args}`);
      const finalStage = steps.slice(steps.lastIndexOf(froms.at(-1)!));
      const user = finalStage.filter((s) => s.keyword === "USER").at(-1);
      assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user.args), "the final stage runs as a non-root user");
      for (const copy of steps.filter((s) => s.keyword === "COPY" && !s.args.startsWith("--from"))) {
        const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith("--"));
        for (const source of parts.slice(0, -1)) {
          assert.ok(existsSync(join(ROOT, source)), `line ${copy.line}: COPY source ${source} exists in the repository`);
        }
      }
    });
  }

  test("the server image: npm ci --omit=dev for the runtime, npm run build, a HEALTHCHECK on /healthz, the tes CLI", () => {
    const steps = instructions(read("Dockerfile"));
    const runs = steps.filter((s) => s.keyword === "RUN").map((s) => s.args);
    assert.ok(runs.some((r) => /npm ci --omit=dev/.test(r)));
    assert.ok(runs.some((r) => /npm run build\b/.test(r)));
    const healthcheck = steps.find((s) => s.keyword === "HEALTHCHECK");
    assert.match(healthcheck?.args ?? "", /\/healthz/);
    assert.match(steps.find((s) => s.keyword === "ENTRYPOINT")?.args ?? "", /dist\/src\/cli\.js/);
    // What `npm run build` compiles must hold the entry point.
    const build = JSON.parse(read("tsconfig.build.json")) as { include: string[]; exclude: string[] };
    assert.ok(build.include.includes("src") && build.include.includes("worker"));
    assert.ok(build.exclude.includes("src/service/testing"), "test-only code stays out of the image");
  });
});

describe("the runner image (Dockerfile stage `runner`; not built here)", () => {
  const steps = instructions(read("Dockerfile"));
  const start = steps.findIndex((s) => s.keyword === "FROM" && /\sAS\s+runner$/i.test(s.args));
  const stage = steps.slice(start, steps.findIndex((s, i) => i > start && s.keyword === "FROM"));

  test("a stage before the server's, so the default target stays the server", () => {
    assert.ok(start >= 0, "a runner stage");
    const froms = steps.filter((s) => s.keyword === "FROM");
    assert.notEqual(froms.at(-1), steps[start]);
  });

  test("the docker client, root for the node's socket, the production condition for filetransfer, the runner the backend runs", async () => {
    assert.ok(stage.some((s) => s.keyword === "COPY" && /--from=docker-cli\s+\S+\/usr\/bin\/docker\s+\/usr\/local\/bin\/docker$/.test(s.args)));
    assert.ok(steps.some((s) => s.keyword === "RUN" && /apt-get download docker\.io/.test(s.args)), "the client from Debian's docker.io");
    assert.match(stage.filter((s) => s.keyword === "USER").at(-1)?.args ?? "", /^root$/);
    // Without it, the compiled runner imports filetransfer's TypeScript source and fails to start.
    assert.match(stage.find((s) => s.keyword === "ENV")?.args ?? "", /NODE_OPTIONS=--conditions=production/);
    assert.ok(!stage.some((s) => s.keyword === "ENTRYPOINT"), "Batch's command line runs as given");
    const { IMAGE_RUNNER_COMMAND } = await import("../../src/config/azure-batch.js");
    const [, script] = IMAGE_RUNNER_COMMAND.split(" ");
    assert.match(script ?? "", /^\/opt\/tes\/dist\/worker\/runner\/cli\.js$/);
    assert.ok(stage.some((s) => s.keyword === "WORKDIR" && s.args === "/opt/tes") && stage.some((s) => s.keyword === "COPY" && /--from=build \/src\/dist \.\/dist$/.test(s.args)));
    assert.ok(existsSync(join(ROOT, "worker/runner/cli.ts")));
  });
});

describe("docker-compose.yml (parsed; not run here)", () => {
  const compose = parse(read("docker-compose.yml")) as {
    services: Record<string, { image?: string; build?: unknown; environment?: Record<string, string>; depends_on?: Record<string, unknown>; command?: string[] }>;
    volumes?: Record<string, unknown>;
  };

  test("the full stack: Redis, PostgreSQL, Azurite, the API and a worker", () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ["azurite", "postgres", "redis", "server", "worker"]);
    assert.deepEqual(compose.services.server!.command, ["server"]);
    assert.deepEqual(compose.services.worker!.command, ["worker"]);
  });

  test("every service has a pinned image or a build; every dependency and volume is declared", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      assert.ok(service.image !== undefined || service.build !== undefined, `${name} has an image or a build`);
      if (service.image !== undefined && service.build === undefined) assert.match(service.image, /:[\w.-]+$/, `${name}: a pinned tag`);
      for (const dependency of Object.keys(service.depends_on ?? {})) assert.ok(dependency in compose.services, `${name} depends on ${dependency}`);
    }
    const text = read("docker-compose.yml");
    for (const match of text.matchAll(/^\s+- ([\w-]+):\//gm)) assert.ok(match[1]! in (compose.volumes ?? {}), `volume ${match[1]} declared`);
  });

  test("the server and worker environment: every variable is one the server reads, and points at a service of the stack", () => {
    const env = compose.services.server!.environment!;
    assert.deepEqual(compose.services.worker!.environment, env, "server and worker share one environment");
    const sources = ["src", "worker", "filetransfer/src"].map((dir) => dir);
    const known = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".ts")) for (const m of read(path).matchAll(/"([A-Z][A-Z0-9_]{2,})"/g)) known.add(m[1]!);
      }
    };
    for (const dir of sources) walk(dir);
    for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is a setting the code reads`);
    for (const value of Object.values(env)) {
      for (const host of String(value).matchAll(/\/\/(?:[^@/]*@)?([a-z][\w-]*)[:/]/g)) {
        assert.ok(host[1]! in compose.services, `${host[1]} (in ${value.split("@").at(-1)}) is a service of the stack`);
      }
    }
  });
});

import { readdirSync } from "node:fs";
