import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DescMethodUnary } from "@bufbuild/protobuf";
import { TaskService } from "../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { RouteTable, routesOf, type HttpRoute } from "../../src/rest/http-routes.js";
import { parsePathTemplate } from "../../src/rest/path-template.js";

function route(httpMethod: string, template: string, method: DescMethodUnary): HttpRoute {
  return { httpMethod, template: parsePathTemplate(template), method, body: "", bodySetsNothing: false };
}

describe("REST routes from google.api.http", () => {
  it("reads every binding of TaskService from its descriptor: 5 methods x 3 paths, and TES 0.x's service-info", () => {
    const routes = routesOf([TaskService]);
    assert.equal(routes.length, 16);
    const paths = routes.map((r) => `${r.httpMethod} ${r.template.source}`);
    for (const base of ["/ga4gh/tes/v1", "/v1", ""]) {
      for (const expected of [
        `GET ${base}/service-info`,
        `GET ${base}/tasks`,
        `POST ${base}/tasks`,
        `GET ${base}/tasks/{id}`,
        `POST ${base}/tasks/{id}:cancel`,
      ]) {
        assert.ok(paths.includes(expected), `${expected} missing from ${paths.join(", ")}`);
      }
    }
    assert.ok(paths.includes("GET /v1/tasks/service-info"));
    assert.equal(routes.find((r) => r.template.source === "/ga4gh/tes/v1/tasks" && r.httpMethod === "POST")?.body, "*");
  });

  it("lets literal segments beat variables, whatever the declaration order", () => {
    const variable = route("GET", "/tasks/{id}", TaskService.method.getTask);
    const literal = route("GET", "/tasks/service-info", TaskService.method.getServiceInfo);
    for (const table of [new RouteTable([variable, literal]), new RouteTable([literal, variable])]) {
      const hit = table.match("GET", "/tasks/service-info");
      assert.equal(hit.kind === "found" && hit.route.method.name, "GetServiceInfo");
      const other = table.match("GET", "/tasks/abc");
      assert.ok(other.kind === "found");
      assert.equal(other.route.method.name, "GetTask");
      assert.deepEqual(other.bindings, [[["id"], "abc"]]);
    }
  });

  it("matches the custom verb, also percent-encoded, and decodes path variables", () => {
    const table = new RouteTable(routesOf([TaskService]));
    for (const path of ["/ga4gh/tes/v1/tasks/a%20b:cancel", "/ga4gh/tes/v1/tasks/a%20b%3Acancel", "/ga4gh/tes/v1/tasks/a%20b%3acancel"]) {
      const hit = table.match("POST", path);
      assert.ok(hit.kind === "found", path);
      assert.equal(hit.route.method.name, "CancelTask");
      assert.deepEqual(hit.bindings, [[["id"], "a b"]]);
    }
    assert.notEqual(table.match("POST", "/ga4gh/tes/v1/tasks/:cancel").kind, "found");
    assert.equal(table.match("GET", "/ga4gh/tes/v1/tasks/%E0%A4%A").kind, "no-route");
  });

  it("tells a wrong method from an unknown path, and ignores empty segments (a trailing slash, a doubled one)", () => {
    const table = new RouteTable(routesOf([TaskService]));
    assert.deepEqual(table.match("PUT", "/v1/tasks"), { kind: "wrong-method", allowed: ["GET", "POST"] });
    assert.deepEqual(table.match("GET", "/v2/tasks"), { kind: "no-route" });
    assert.equal(table.match("GET", "/v1/tasks/").kind, "found");
    assert.equal(table.match("GET", "/ga4gh/tes/v1//tasks").kind, "found");
    const get = table.match("GET", "//ga4gh/tes/v1/tasks//abc");
    assert.equal(get.kind === "found" && get.route.method.name, "GetTask");
    assert.deepEqual(get.kind === "found" && get.bindings, [[["id"], "abc"]]);
    assert.equal(table.match("HEAD", "/v1/service-info").kind, "found");
  });

  it("refuses two methods bound to the same method and path at start-up", () => {
    assert.throws(
      () => new RouteTable([route("GET", "/tasks/{id}", TaskService.method.getTask), route("GET", "/tasks/{name}", TaskService.method.getServiceInfo)]),
      /GET \/tasks\/\{\} is bound to both ga4gh\.tes\.v1\.TaskService\.GetTask and ga4gh\.tes\.v1\.TaskService\.GetServiceInfo/,
    );
  });

  it("refuses templates it cannot serve at start-up, naming them", () => {
    assert.throws(() => parsePathTemplate("/v1/{name=tasks/**}"), /unsupported google\.api\.http path template "\/v1\/\{name=tasks\/\*\*\}"/);
    assert.throws(() => parsePathTemplate("v1/tasks"), /must start with \//);
  });
});
