import { create, createFileRegistry, setExtension, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { http, file_google_api_annotations } from "../../../src/gen/google/api/annotations_pb.js";
import { HttpRuleSchema } from "../../../src/gen/google/api/http_pb.js";
import { bindService, type ServiceBinding } from "../../../src/server/service-binding.js";

/**
 * A one-method echo service, built from a descriptor in code (so it never reaches src/gen or the
 * public proto): the ceiling that TES calls are measured against. It runs on the same server
 * stack, interceptors, REST transcoder (GET /bench/echo/{id}) and JSON codec as TaskService.
 */
function buildEchoService(): DescService {
  const options = create(MethodOptionsSchema);
  setExtension(options, http, create(HttpRuleSchema, { pattern: { case: "get", value: "/bench/echo/{id}" } }));
  const file = create(FileDescriptorProtoSchema, {
    name: "tes/testing/v1/echo.proto",
    package: "tes.testing.v1",
    syntax: "proto3",
    dependency: ["google/api/annotations.proto"],
    messageType: [
      { name: "EchoRequest", field: [{ name: "id", number: 1, type: 9, label: 1, jsonName: "id" }] },
      { name: "EchoResponse", field: [{ name: "id", number: 1, type: 9, label: 1, jsonName: "id" }] },
    ],
    service: [
      {
        name: "EchoService",
        method: [{ name: "Echo", inputType: ".tes.testing.v1.EchoRequest", outputType: ".tes.testing.v1.EchoResponse", options }],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => (name === "google/api/annotations.proto" ? file_google_api_annotations : undefined));
  const service = registry.getService("tes.testing.v1.EchoService");
  if (service === undefined) throw new Error("echo service descriptor did not build");
  return service;
}

export const EchoService = buildEchoService();

export const echoBinding: ServiceBinding = bindService(EchoService, {
  echo: (request: { id: string }) => ({ id: request.id }),
} as never);
