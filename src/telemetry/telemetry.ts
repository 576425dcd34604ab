import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from "@azure/monitor-opentelemetry-exporter";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TelemetryConfig } from "../config/telemetry.js";

export interface TelemetryOptions {
  /** More span processors (tests: a SimpleSpanProcessor over an InMemorySpanExporter). */
  readonly spanProcessors?: readonly SpanProcessor[];
  /** More metric readers (tests: a PeriodicExportingMetricReader over an InMemoryMetricExporter). */
  readonly metricReaders?: readonly IMetricReader[];
}

export interface Telemetry {
  /** Serves `GET /metrics` in the Prometheus text format, when METRICS_ENDPOINT_ENABLED. */
  readonly metricsHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** Which exporters are on, for the start-up log line. */
  readonly exporters: readonly string[];
  /** Flushes what is buffered, then stops; the global providers go back to no-ops. */
  shutdown(): Promise<void>;
}

/**
 * Sets the process's global tracer and meter providers (W3C trace context, AsyncLocalStorage
 * context), exporting to Application Insights, to OTLP and on /metrics, as configured. Every part
 * of the server records through the @opentelemetry/api globals (instruments.ts), so one call here,
 * before the app starts, switches telemetry on everywhere.
 */
export function startTelemetry(config: TelemetryConfig, options: TelemetryOptions = {}): Telemetry {
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: "0.1.0" });
  const exporters: string[] = [];
  const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const metricReaders: IMetricReader[] = [...(options.metricReaders ?? [])];
  const periodic = (exporter: ConstructorParameters<typeof PeriodicExportingMetricReader>[0]["exporter"]) =>
    new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: config.exportIntervalMs });

  if (config.applicationInsightsConnectionString !== undefined) {
    const connectionString = config.applicationInsightsConnectionString;
    spanProcessors.push(new BatchSpanProcessor(new AzureMonitorTraceExporter({ connectionString })));
    metricReaders.push(periodic(new AzureMonitorMetricExporter({ connectionString })));
    exporters.push("application-insights");
  }
  if (config.otlpEndpoint !== undefined) {
    const base = config.otlpEndpoint.href.replace(/\/$/, "");
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` })));
    metricReaders.push(periodic(new OTLPMetricExporter({ url: `${base}/v1/metrics` })));
    exporters.push("otlp");
  }
  let prometheus: PrometheusExporter | undefined;
  if (config.prometheusEnabled) {
    // Served on the API port by the API's own listener (no second port to open or secure).
    prometheus = new PrometheusExporter({ preventServerStart: true });
    metricReaders.push(prometheus);
    exporters.push("prometheus");
  }

  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
  });
  tracerProvider.register();
  const meterProvider = new MeterProvider({ resource, readers: metricReaders });
  metrics.setGlobalMeterProvider(meterProvider);

  const exporter = prometheus;
  return {
    metricsHandler: exporter === undefined ? undefined : (req, res) => exporter.getMetricsRequestHandler(req, res),
    exporters,
    async shutdown() {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
    },
  };
}
