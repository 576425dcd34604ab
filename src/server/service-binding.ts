import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";

/** A service descriptor and its implementation, served on every protocol (REST where it has google.api.http rules). */
export interface ServiceBinding {
  readonly service: DescService;
  readonly impl: Partial<ServiceImpl<DescService>>;
}

/** Pairs a service with its implementation, type-checked against the descriptor. */
export function bindService<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceBinding {
  return { service, impl: impl as Partial<ServiceImpl<DescService>> };
}
