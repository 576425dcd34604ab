import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as v1 from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { startTestServer, type TestServer } from "../support/tes-test-server.js";

describe("gRPC server reflection v1", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  async function ask(...requests: Array<v1.ServerReflectionRequest["messageRequest"]>): Promise<v1.ServerReflectionResponse[]> {
    const client = createClient(v1.ServerReflection, createGrpcTransport({ baseUrl: s.baseUrl }));
    const answers: v1.ServerReflectionResponse[] = [];
    async function* input() {
      for (const messageRequest of requests) yield create(v1.ServerReflectionRequestSchema, { messageRequest });
    }
    for await (const answer of client.serverReflectionInfo(input())) answers.push(answer);
    return answers;
  }

  it("lists the services and answers each request of one stream in order", async () => {
    const [list, file] = await ask({ case: "listServices", value: "" }, { case: "fileContainingSymbol", value: "ga4gh.tes.v1.TaskService.GetTask" });
    assert.equal(list?.messageResponse.case, "listServicesResponse");
    const names = list?.messageResponse.case === "listServicesResponse" ? list.messageResponse.value.service.map((x) => x.name) : [];
    assert.deepEqual(names.sort(), ["ga4gh.tes.v1.TaskService", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);
    assert.equal(file?.messageResponse.case, "fileDescriptorResponse");
  });

  it("sends a file with every file it imports, dependencies first", async () => {
    const [answer] = await ask({ case: "fileByFilename", value: "ga4gh/tes/v1/tes.proto" });
    assert.ok(answer?.messageResponse.case === "fileDescriptorResponse");
    const files = answer.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    assert.equal(files.at(-1), "ga4gh/tes/v1/tes.proto");
    for (const dependency of ["google/api/annotations.proto", "google/api/http.proto", "google/api/field_behavior.proto", "google/protobuf/descriptor.proto"]) {
      assert.ok(files.includes(dependency), `${dependency} missing from ${files.join(", ")}`);
    }
  });

  it("finds messages, enums and extensions by name and number", async () => {
    const [message, enumeration, extension, numbers] = await ask(
      { case: "fileContainingSymbol", value: "ga4gh.tes.v1.Task" },
      { case: "fileContainingSymbol", value: "ga4gh.tes.v1.State" },
      { case: "fileContainingExtension", value: create(v1.ExtensionRequestSchema, { containingType: "google.protobuf.MethodOptions", extensionNumber: 72295728 }) },
      { case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" },
    );
    for (const answer of [message, enumeration, extension]) assert.equal(answer?.messageResponse.case, "fileDescriptorResponse");
    assert.ok(numbers?.messageResponse.case === "allExtensionNumbersResponse");
    assert.deepEqual(numbers.messageResponse.value.extensionNumber, [1052]);
  });

  it("answers an unknown symbol or file with NOT_FOUND in the stream, and goes on", async () => {
    const [symbol, file, after] = await ask(
      { case: "fileContainingSymbol", value: "no.such.Service" },
      { case: "fileByFilename", value: "no/such.proto" },
      { case: "listServices", value: "" },
    );
    for (const answer of [symbol, file]) {
      assert.ok(answer?.messageResponse.case === "errorResponse");
      assert.equal(answer.messageResponse.value.errorCode, 5);
    }
    assert.equal(after?.messageResponse.case, "listServicesResponse");
  });
});
