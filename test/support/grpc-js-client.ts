import { fromBinary, toBinary, type DescMethodUnary, type DescService, type MessageShape, type DescMessage } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/**
 * A plain @grpc/grpc-js client for any service, from its descriptor (binary protobuf through
 * toBinary/fromBinary), as a gRPC client in another language would call the server.
 */
export function createGrpcJsClient(service: DescService, address: string, credentials = grpc.credentials.createInsecure()): grpc.Client {
  const definition: Record<string, grpc.MethodDefinition<MessageShape<DescMessage>, MessageShape<DescMessage>>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (message: MessageShape<DescMessage>) => Buffer.from(toBinary(method.input, message)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: MessageShape<DescMessage>) => Buffer.from(toBinary(method.output, message)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      originalName: method.name,
    };
  }
  const Client = grpc.makeGenericClientConstructor(definition, service.name);
  return new Client(address, credentials);
}

/** One unary call; rejects with the grpc-js ServiceError (its `code` is the gRPC status). */
export function grpcUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageShape<I>,
  metadata: Record<string, string> = {},
): Promise<MessageShape<O>> {
  const meta = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) meta.set(key, value);
  return new Promise((resolve, reject) => {
    const call = (client as unknown as Record<string, (req: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r?: unknown) => void) => void>)[method.localName];
    if (call === undefined) throw new Error(`no method ${method.localName}`);
    call.call(client, request, meta, (error, response) => {
      if (error !== null) reject(error);
      else resolve(response as MessageShape<O>);
    });
  });
}
