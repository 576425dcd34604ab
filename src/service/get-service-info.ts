import { create } from "@bufbuild/protobuf";
import { ServiceInfoSchema, type ServiceInfo } from "../gen/ga4gh/tes/v1/tes_pb.js";
import { publicStorageLocation } from "../config/service-info.js";
import type { ResolvedDeps } from "./task-service-deps.js";

/** The GA4GH service type of every TES 1.1 service. */
export const TES_SERVICE_TYPE = { group: "org.ga4gh", artifact: "tes", version: "1.1.0" } as const;

/**
 * GetServiceInfo: GA4GH service-info plus the TES extras. It is built once, from settings that hold
 * no secret; storage locations lose any credentials or SAS query on the way.
 */
export function getServiceInfoHandler(deps: ResolvedDeps) {
  const config = deps.serviceInfo;
  const storage = [...new Set([...deps.backend.storage, ...config.storage].map(publicStorageLocation))];
  const info: ServiceInfo = create(ServiceInfoSchema, {
    id: config.id,
    name: config.name,
    type: TES_SERVICE_TYPE,
    description: config.description ?? "",
    organization: config.organization,
    contactUrl: config.contactUrl ?? "",
    documentationUrl: config.documentationUrl ?? "",
    createdAt: config.createdAt ?? "",
    updatedAt: config.updatedAt ?? "",
    environment: config.environment ?? "",
    version: config.version,
    storage,
    tesResourcesBackendParameters: [...deps.backend.backendParameters],
  });
  return async (): Promise<ServiceInfo> => info;
}
