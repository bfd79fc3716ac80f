// OpenTelemetry's standard environment variables, as the tracing plugin reads
// them (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).

import type { Env } from '../shared/env.js';

export const DEFAULT_OTLP_TRACES_URL = 'http://127.0.0.1:4318/v1/traces';

/** `coordinator start` adds the tracing plugin when an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: Env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** `k1=v1,k2=v2` (values percent-encoded), as OTEL_EXPORTER_OTLP_HEADERS. */
export function parseOtlpHeaders(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const headers: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      headers[pair.slice(0, eq).trim().toLowerCase()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      headers[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim();
    }
  }
  return headers;
}

export interface TracingEnvOptions {
  endpoint?: string;
  headers?: Record<string, string>;
  serviceName?: string;
}

export function tracingEnv(env: Env): TracingEnvOptions {
  const out: TracingEnvOptions = {};
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (env.OTEL_EXPORTER_OTLP_ENDPOINT ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (endpoint) out.endpoint = endpoint;
  const headers = parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS || env.OTEL_EXPORTER_OTLP_HEADERS);
  if (headers) out.headers = headers;
  if (env.OTEL_SERVICE_NAME) out.serviceName = env.OTEL_SERVICE_NAME;
  return out;
}
