import { create, fromBinary, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { DescriptorIndex } from "./descriptor-index.js";

/** gRPC status NOT_FOUND, as the reflection protocol's error_code carries it. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * gRPC server reflection (grpc.reflection.v1 and the older v1alpha that some tools still ask
 * for), answering from the descriptors compiled into the server, so `buf curl`, grpcurl and
 * Postman can list and call every method without a copy of the protos.
 */
export function createReflection(services: readonly DescService[]): {
  v1: ServiceImpl<typeof v1.ServerReflection>;
  v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
} {
  const index = new DescriptorIndex([...services, v1.ServerReflection, v1alpha.ServerReflection]);
  const answer = (request: v1.ServerReflectionRequest): v1.ServerReflectionResponse =>
    create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: respond(index, request.messageRequest),
    });
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) yield answer(request);
      },
    },
    v1alpha: {
      // The v1alpha messages are wire-identical to v1: translate through the binary form.
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          const asV1 = fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request));
          yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, answer(asV1)));
        }
      },
    },
  };
}

function respond(
  index: DescriptorIndex,
  request: v1.ServerReflectionRequest["messageRequest"],
): v1.ServerReflectionResponse["messageResponse"] {
  const files = (file: DescFile | undefined, what: string) =>
    file === undefined
      ? notFound(what)
      : {
          case: "fileDescriptorResponse" as const,
          value: create(v1.FileDescriptorResponseSchema, {
            fileDescriptorProto: index.withDependencies(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
          }),
        };
  switch (request.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: create(v1.ListServiceResponseSchema, { service: index.serviceNames.map((name) => ({ name })) }),
      };
    case "fileByFilename":
      return files(index.fileByName(request.value), `file ${request.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(request.value), `symbol ${request.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      const extension = index.extensionsOf(containingType).find((e) => e.number === extensionNumber);
      return files(extension?.file, `extension ${extensionNumber} of ${containingType}`);
    }
    case "allExtensionNumbersOfType":
      if (index.fileContainingSymbol(request.value) === undefined) return notFound(`type ${request.value}`);
      return {
        case: "allExtensionNumbersResponse",
        value: create(v1.ExtensionNumberResponseSchema, {
          baseTypeName: request.value,
          extensionNumber: index.extensionsOf(request.value).map((e) => e.number),
        }),
      };
    default:
      return {
        case: "errorResponse",
        value: create(v1.ErrorResponseSchema, { errorCode: INVALID_ARGUMENT, errorMessage: "empty reflection request" }),
      };
  }
}

function notFound(what: string): v1.ServerReflectionResponse["messageResponse"] {
  return {
    case: "errorResponse",
    value: create(v1.ErrorResponseSchema, { errorCode: NOT_FOUND, errorMessage: `${what} not found` }),
  };
}
