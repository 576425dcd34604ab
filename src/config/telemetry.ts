import { EnvReader, type Env } from "./env-reader.js";

/** Where traces and metrics go (src/telemetry/telemetry.ts). Each exporter is on when its setting is. */
export interface TelemetryConfig {
  /** OTEL_SERVICE_NAME: the service.name resource attribute. Default "tes". */
  readonly serviceName: string;
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: traces and metrics to Application Insights. */
  readonly applicationInsightsConnectionString: string | undefined;
  /**
   * OTEL_EXPORTER_OTLP_ENDPOINT: traces and metrics over OTLP/HTTP (protobuf) to this base URL
   * (/v1/traces and /v1/metrics are appended, as the OpenTelemetry specification says).
   */
  readonly otlpEndpoint: URL | undefined;
  /** METRICS_ENDPOINT_ENABLED: `GET /metrics` (Prometheus text) on the API port. Default true. */
  readonly prometheusEnabled: boolean;
  /** OTEL_METRIC_EXPORT_INTERVAL: how often metrics are pushed (Application Insights, OTLP), ms. Default 60000. */
  readonly exportIntervalMs: number;
  /** OTEL_TRACES_SAMPLER_ARG: the share of new traces recorded, 0..1 (a caller's sampled flag wins). Default 1. */
  readonly sampleRatio: number;
}

export function loadTelemetryConfig(env: Env): TelemetryConfig {
  const read = new EnvReader(env);
  const endpoint = read.optionalUrl("OTEL_EXPORTER_OTLP_ENDPOINT");
  return {
    serviceName: read.string("OTEL_SERVICE_NAME", "tes"),
    applicationInsightsConnectionString: read.optionalString("APPLICATIONINSIGHTS_CONNECTION_STRING"),
    otlpEndpoint: endpoint,
    prometheusEnabled: read.boolean("METRICS_ENDPOINT_ENABLED", true),
    exportIntervalMs: read.integer("OTEL_METRIC_EXPORT_INTERVAL", 60_000, { min: 1000, max: 3_600_000 }),
    sampleRatio: read.number("OTEL_TRACES_SAMPLER_ARG", 1, { min: 0, max: 1 }),
  };
}
