import { create, createFileRegistry, setExtension, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { http, file_google_api_annotations } from "../../../src/gen/google/api/annotations_pb.js";
import { HttpRuleSchema } from "../../../src/gen/google/api/http_pb.js";
import { file_ga4gh_tes_v1_tes, type Task } from "../../../src/gen/ga4gh/tes/v1/tes_pb.js";
import { bindService, type ServiceBinding } from "../../../src/server/service-binding.js";

/**
 * An echo service, built from a descriptor in code (so it never reaches src/gen or the public
 * proto): the ceiling that TES calls are measured against. It runs on the same server stack,
 * interceptors, REST transcoder and JSON codec as TaskService. Echo (GET /bench/echo/{id}) is the
 * bare call; EchoTask (POST /bench/echo, a TES task as the body, answering its name as the id) is
 * the same for a request with CreateTask's body: what reading and parsing that body costs alone.
 */
function buildEchoService(): DescService {
  const options = create(MethodOptionsSchema);
  setExtension(options, http, create(HttpRuleSchema, { pattern: { case: "get", value: "/bench/echo/{id}" } }));
  const postOptions = create(MethodOptionsSchema);
  setExtension(postOptions, http, create(HttpRuleSchema, { pattern: { case: "post", value: "/bench/echo" }, body: "*" }));
  const file = create(FileDescriptorProtoSchema, {
    name: "tes/testing/v1/echo.proto",
    package: "tes.testing.v1",
    syntax: "proto3",
    dependency: ["google/api/annotations.proto", "ga4gh/tes/v1/tes.proto"],
    messageType: [
      { name: "EchoRequest", field: [{ name: "id", number: 1, type: 9, label: 1, jsonName: "id" }] },
      { name: "EchoResponse", field: [{ name: "id", number: 1, type: 9, label: 1, jsonName: "id" }] },
    ],
    service: [
      {
        name: "EchoService",
        method: [
          { name: "Echo", inputType: ".tes.testing.v1.EchoRequest", outputType: ".tes.testing.v1.EchoResponse", options },
          { name: "EchoTask", inputType: ".ga4gh.tes.v1.Task", outputType: ".tes.testing.v1.EchoResponse", options: postOptions },
        ],
      },
    ],
  });
  const imports: Record<string, typeof file_ga4gh_tes_v1_tes> = {
    "google/api/annotations.proto": file_google_api_annotations,
    "ga4gh/tes/v1/tes.proto": file_ga4gh_tes_v1_tes,
  };
  const registry = createFileRegistry(file, (name) => imports[name]);
  const service = registry.getService("tes.testing.v1.EchoService");
  if (service === undefined) throw new Error("echo service descriptor did not build");
  return service;
}

export const EchoService = buildEchoService();

export const echoBinding: ServiceBinding = bindService(EchoService, {
  echo: (request: { id: string }) => ({ id: request.id }),
  echoTask: (request: Task) => ({ id: request.name }),
} as never);
