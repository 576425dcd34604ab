import { getOption, hasOption, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { http } from "../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../gen/google/api/http_pb.js";
import { compareSpecificity, matchPathTemplate, parsePathTemplate, type PathBindings, type PathTemplate } from "./path-template.js";

/** One REST binding of a unary RPC, read from its `google.api.http` option. */
export interface HttpRoute {
  readonly httpMethod: string;
  readonly template: PathTemplate;
  readonly method: DescMethodUnary;
  /** "" (no body), "*" (the whole request message) or the name of the request field the body fills. */
  readonly body: string;
  /**
   * The body can set no field: `*` where the path binds every field of the request (CancelTask's
   * id). Such a body is read within the size limit and dropped unparsed, whatever its content type:
   * clients send `{}`, or nothing, with or without a JSON content type.
   */
  readonly bodySetsNothing: boolean;
}

/** Every binding (main rule and additional_bindings) of every unary method of the services. */
export function routesOf(services: readonly DescService[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      if (method.methodKind !== "unary") {
        throw new Error(`${method.parent.typeName}.${method.name} has a google.api.http rule but is not unary`);
      }
      const rule = getOption(method, http);
      for (const binding of [rule, ...rule.additionalBindings]) routes.push(routeOf(method as DescMethodUnary, binding));
    }
  }
  return routes;
}

function routeOf(method: DescMethodUnary, rule: HttpRule): HttpRoute {
  const pattern = rule.pattern;
  let httpMethod: string;
  let path: string;
  switch (pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = pattern.case.toUpperCase();
      path = pattern.value;
      break;
    case "custom":
      httpMethod = pattern.value.kind.toUpperCase();
      path = pattern.value.path;
      break;
    default:
      throw new Error(`${method.parent.typeName}.${method.name} has a google.api.http rule without a pattern`);
  }
  if (rule.responseBody !== "") {
    throw new Error(`${method.parent.typeName}.${method.name}: google.api.http response_body is not supported by this transcoder`);
  }
  if (rule.body !== "" && rule.body !== "*" && !method.input.fields.some((f) => f.name === rule.body)) {
    throw new Error(`${method.parent.typeName}.${method.name}: google.api.http body "${rule.body}" is not a field of ${method.input.typeName}`);
  }
  const template = parsePathTemplate(path);
  const pathFields = new Set(template.segments.flatMap((segment) => (segment.kind === "variable" ? [segment.fieldPath[0]] : [])));
  const bodySetsNothing = rule.body === "*" && method.input.fields.every((field) => pathFields.has(field.name));
  return { httpMethod, template, method, body: rule.body, bodySetsNothing };
}

export type RouteMatch =
  | { readonly kind: "found"; readonly route: HttpRoute; readonly bindings: PathBindings }
  | { readonly kind: "wrong-method"; readonly allowed: readonly string[] }
  | { readonly kind: "no-route" };

/** Finds the route for a request; literal segments win over variables where two templates match. */
export class RouteTable {
  private readonly routes: HttpRoute[];

  constructor(routes: readonly HttpRoute[]) {
    const seen = new Map<string, HttpRoute>();
    for (const route of routes) {
      // Variables are compared by position only: /tasks/{id} and /tasks/{name} are the same route.
      const key = `${route.httpMethod} ${route.template.source.replace(/\{[^}]*\}/g, "{}")}`;
      const other = seen.get(key);
      if (other !== undefined) {
        throw new Error(`google.api.http: ${key} is bound to both ${other.method.parent.typeName}.${other.method.name} and ${route.method.parent.typeName}.${route.method.name}`);
      }
      seen.set(key, route);
    }
    this.routes = [...routes].sort((a, b) => compareSpecificity(a.template, b.template));
  }

  get size(): number {
    return this.routes.length;
  }

  /** `path` is the request path without the query string. */
  match(httpMethod: string, path: string): RouteMatch {
    if (!path.startsWith("/")) return { kind: "no-route" };
    // Empty segments are dropped: clients whose base URL ends in "/" send "//tasks", and many
    // send a trailing slash.
    const segments = path.split("/").filter((segment) => segment !== "");
    const method = httpMethod === "HEAD" ? "GET" : httpMethod;
    const allowed = new Set<string>();
    for (const route of this.routes) {
      const bindings = matchPathTemplate(route.template, segments);
      if (bindings === undefined) continue;
      if (route.httpMethod === method) return { kind: "found", route, bindings };
      allowed.add(route.httpMethod);
    }
    return allowed.size > 0 ? { kind: "wrong-method", allowed: [...allowed] } : { kind: "no-route" };
  }
}
