// Tracing: OpenTelemetry spans of the request pipeline, exported over OTLP
// (HTTP, JSON). Loaded only when configured (`plugins: [..., 'tracing']`, or
// by `coordinator start` when OTEL_EXPORTER_OTLP_ENDPOINT is set); the
// OpenTelemetry packages are optional peer dependencies.
//
// - a span per request, from dispatch to its one outcome (ok, forwarded, or
//   the error code), child of the caller's W3C `traceparent` (HTTP ingress);
// - a child span per hook tap that runs for it (`onRequest key-auth`, …);
// - the request span's traceparent sent on with HTTP response hooks and
//   federated requests, and a span with its traceparent on each event
//   callback (the 'tracing' service, for any plugin's outgoing calls).

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { definePlugin } from '../../core/plugin.js';
import { tapChannel, type TapTrace } from '../../core/hooks.js';
import type { Request } from '../../core/model.js';
import type { RequestContext, TraceContext } from '../../core/context.js';
import type { RequestTelemetry } from '../../core/runtime.js';
import { DEFAULT_OTLP_TRACES_URL, tracingEnv } from './env.js';
import { loadOtel } from './otel.js';
import { RequestSpans } from './spans.js';

export const PLUGIN_NAME = 'tracing';
export const TRACING_SERVICE = 'tracing';

export interface TracingOptions {
  /** OTLP/HTTP traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  endpoint: string;
  /** Headers sent with each export, e.g. an API key (OTEL_EXPORTER_OTLP_HEADERS). */
  headers: Record<string, string>;
  /** service.name of the spans (OTEL_SERVICE_NAME). */
  serviceName: string;
  /** Share of new traces recorded (0–1); a caller's sampled flag is followed. */
  sampleRatio: number;
  /** Spans are exported in batches at this interval, ms. */
  exportIntervalMs: number;
  /** Spans waiting for export at most; past it new spans are dropped (counted by the SDK). */
  maxQueuedSpans: number;
  /** Requests traced at once at most; past it a request gets no span. */
  maxOpenRequests: number;
}

/** A traced outgoing call (see TracingService.outgoing). */
export interface TracedCall {
  /** Send these as the traceparent / tracestate headers. */
  readonly traceContext: TraceContext;
  /** The call is over; give the error text when it failed. */
  end(error?: string): void;
}

/** What the tracing plugin offers other plugins (optional: use runtime.optionalService('tracing')). */
export interface TracingService {
  /** A span for an outgoing call made on no request's behalf (an event callback). */
  outgoing(name: string, attributes?: Record<string, string | number>): TracedCall;
  /** Requests with a span open now. */
  readonly openRequests: number;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: { description: "OTLP/HTTP traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces).", type: 'string', pattern: '^https?://', default: DEFAULT_OTLP_TRACES_URL },
    headers: { description: "Headers sent with each export, e.g. an API key (OTEL_EXPORTER_OTLP_HEADERS: k=v,k2=v2).", type: 'object', additionalProperties: { type: 'string' }, default: {} },
    serviceName: { description: "service.name of the spans (OTEL_SERVICE_NAME).", type: 'string', minLength: 1, default: 'coordinator' },
    sampleRatio: { description: "Share of new traces recorded, 0–1; a caller's sampled flag is followed.", type: 'number', minimum: 0, maximum: 1, default: 1 },
    exportIntervalMs: { description: "Spans are exported in batches at this interval, ms.", type: 'integer', minimum: 10, maximum: 60_000, default: 2000 },
    maxQueuedSpans: { description: "Spans waiting for export at most; past it new spans are dropped.", type: 'integer', minimum: 16, maximum: 1_000_000, default: 8192 },
    maxOpenRequests: { description: "Requests traced at once at most; past it a request gets no span.", type: 'integer', minimum: 1, maximum: 10_000_000, default: 100_000 },
  },
};

export const tracing = definePlugin<TracingOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  env: tracingEnv,
  async apply(api, options) {
    const { runtime, log } = api;
    const otel = await loadOtel();
    const { sdk, exporter, resources } = otel;
    const provider = new sdk.BasicTracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': options.serviceName }),
      sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(options.sampleRatio) }),
      spanProcessors: [new sdk.BatchSpanProcessor(new exporter.OTLPTraceExporter({ url: options.endpoint, headers: options.headers }), {
        scheduledDelayMillis: options.exportIntervalMs,
        maxQueueSize: options.maxQueuedSpans,
        maxExportBatchSize: Math.min(512, options.maxQueuedSpans),
      })],
    });
    const spans = new RequestSpans(otel, provider.getTracer('coordinator-runtime'), options.maxOpenRequests);

    const onStart = (message: unknown) => {
      const { request, context, runtime: from } = message as { request: Request; context: RequestContext; runtime: unknown };
      if (from === runtime) spans.requestStarted(request, context);
    };
    const onSettled = (e: RequestTelemetry) => spans.requestSettled(e);
    const tapHandlers = {
      start: (trace: TapTrace) => spans.tapStarted(trace),
      end: (trace: TapTrace) => { if (!trace.async) spans.tapEnded(trace); },
      asyncStart: () => undefined,
      asyncEnd: (trace: TapTrace) => spans.tapEnded(trace),
      error: (trace: TapTrace & { error?: unknown }) => spans.tapFailed(trace),
    };

    api.provide(TRACING_SERVICE, {
      outgoing: (name, attributes = {}) => spans.outgoing(name, attributes),
      get openRequests() { return spans.open; },
    } satisfies TracingService);

    api.onStart(() => {
      subscribe('coordinator:request:start', onStart);
      runtime.telemetry.on('request', onSettled);
      tapChannel.subscribe(tapHandlers);
      log.info({ endpoint: options.endpoint, serviceName: options.serviceName, sampleRatio: options.sampleRatio }, 'tracing: spans exported over OTLP');
    });
    api.onStop(async () => {
      unsubscribe('coordinator:request:start', onStart);
      runtime.telemetry.off('request', onSettled);
      tapChannel.unsubscribe(tapHandlers);
      spans.endAll();
      if (spans.dropped > 0) log.warn({ dropped: spans.dropped, maxOpenRequests: options.maxOpenRequests }, 'tracing: some requests got no span (too many open at once)');
      // Export what is left; a collector that is down costs at most its timeout.
      await provider.shutdown().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'tracing: last export failed'));
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'tracing': TracingService;
  }
}
