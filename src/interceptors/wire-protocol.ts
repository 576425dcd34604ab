import { createContextKey, createContextValues, type ContextValues } from "@connectrpc/connect";

/**
 * Which wire protocol carried a call. Interceptors read it from `req.contextValues` to log or
 * meter per protocol; every call, REST included, carries it.
 */
export type WireProtocol = "grpc" | "grpc-web" | "connect" | "rest";

export const wireProtocolKey = createContextKey<WireProtocol>("connect", { description: "the wire protocol of the call" });

/** The protocol Connect's router will pick for a request with this content-type. */
export function wireProtocolOf(contentType: string | undefined): WireProtocol {
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Fresh context values for one call, with its protocol set. */
export function contextValuesFor(protocol: WireProtocol): ContextValues {
  return createContextValues().set(wireProtocolKey, protocol);
}
