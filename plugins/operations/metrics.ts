// Prometheus metrics (prom-client), one registry per runtime. Counters and
// histograms are fed by the runtime's telemetry; gauges read the plugins'
// services when scraped.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Coordinator, RequestTelemetry } from '../../core/runtime.js';
import type { EventCallbacksService } from '../event-callbacks/index.js';
import type { StreamingService } from '../streaming-control/index.js';
import type { StreamProxyService } from '../stream-proxy/index.js';
import { BoundedLabels } from './labels.js';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** A counter whose value a plugin keeps (read at scrape time); named with _total as Prometheus counters are. */
function readCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      const value = read();
      if (value > 0) this.inc(value);
    },
  });
}

export function createMetrics(runtime: Coordinator, withProcessMetrics: boolean): Registry {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'coordinator_' });

  const requests = new Counter({ name: 'coordinator_requests_total', help: 'Requests settled, by task and outcome (ok, forwarded, or the error code)', labelNames: ['task', 'outcome'], registers: [registry] });
  const duration = new Histogram({ name: 'coordinator_request_duration_seconds', help: 'Time from dispatch to response delivery', labelNames: ['task', 'outcome'], buckets: LATENCY_BUCKETS, registers: [registry] });
  new Gauge({ name: 'coordinator_requests_in_flight', help: 'Requests awaiting a response', registers: [registry], collect() { this.set(runtime.inFlight); } });
  const providerFailures = new Counter({ name: 'coordinator_provider_send_failures_total', help: 'Sends to a provider that failed (refused, unreachable, error ack)', labelNames: ['task'], registers: [registry] });
  const failovers = new Counter({ name: 'coordinator_provider_failovers_total', help: 'Requests accepted by a provider after another failed', labelNames: ['task'], registers: [registry] });
  const publishes = new Counter({ name: 'coordinator_publishes_total', help: 'Publish decisions, by result and reason', labelNames: ['result', 'reason'], registers: [registry] });
  const keyLatency = new Histogram({ name: 'coordinator_key_verification_duration_seconds', help: 'Key verification time, by result (accepted, denied, error)', labelNames: ['result'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const keyFailures = new Counter({ name: 'coordinator_key_verification_failures_total', help: 'Key verifications that could not reach a verdict (timeout, connection error)', registers: [registry] });

  // Task names come from callers: only tasks a provider was found for get their own series.
  const tasks = new BoundedLabels(200, 64);
  // Outcomes and reasons are error codes of the catalog, but a plugin may emit its own: bound them too.
  const outcomes = new BoundedLabels(64, 40);
  runtime.telemetry.on('request', (e: RequestTelemetry) => {
    const labels = { task: tasks.of(e.task, e.resolved === true), outcome: outcomes.of(e.outcome) };
    requests.inc(labels);
    duration.observe(labels, e.durationMs / 1000);
  });
  runtime.telemetry.on('provider:failure', (e: { task: string }) => providerFailures.inc({ task: tasks.of(e.task) }));
  runtime.telemetry.on('provider:failover', (e: { task: string }) => failovers.inc({ task: tasks.of(e.task) }));
  runtime.telemetry.on('publish', (e: { accepted: boolean; reason: string }) => publishes.inc({ result: e.accepted ? 'accepted' : 'denied', reason: outcomes.of(e.reason) }));
  const overloaded = new Counter({ name: 'coordinator_overloaded_total', help: 'Requests refused because a limit on what is held at once was reached (ERR_OVERLOADED), by door', labelNames: ['door'], registers: [registry] });
  const doors = new BoundedLabels(8, 16);
  runtime.telemetry.on('overloaded', (e: { door: string }) => overloaded.inc({ door: doors.of(e.door) }));
  runtime.telemetry.on('key-verification', (e: { result: string; durationMs: number }) => {
    keyLatency.observe({ result: e.result }, e.durationMs / 1000);
    if (e.result === 'error') keyFailures.inc();
  });

  const streams = () => runtime.optionalService('stream.proxy');
  new Gauge({ name: 'coordinator_stream_proxy_open_streams', help: 'Streams being proxied now', registers: [registry], collect() { this.set(streams()?.open ?? 0); } });
  readCounter(registry, 'coordinator_stream_proxy_bytes_total', 'Bytes proxied since start', () => streams()?.bytes ?? 0);
  new Gauge({ name: 'coordinator_stream_proxy_tokens', help: 'Stream tokens issued and not yet used or expired', registers: [registry], collect() { this.set(streams()?.size ?? 0); } });

  const streaming = () => runtime.optionalService('streaming.control');
  new Gauge({
    name: 'coordinator_control_connections', help: 'Control connections by role', labelNames: ['role'], registers: [registry],
    collect() {
      const counts = streaming()?.sessionCounts() ?? { rtmp: 0, wss: 0, hls: 0 };
      for (const [role, n] of Object.entries(counts)) this.set({ role }, n);
    },
  });
  new Gauge({ name: 'coordinator_encoders', help: 'Registered HLS encoders', registers: [registry], collect() { this.set(streaming()?.capacity().encoderCount ?? 0); } });
  new Gauge({ name: 'coordinator_encoder_capacity', help: 'Total encoder capacity (-1: unlimited)', registers: [registry], collect() { this.set(streaming()?.capacity().capacity ?? 0); } });
  new Gauge({ name: 'coordinator_encoder_load', help: 'Streams assigned to encoders', registers: [registry], collect() { this.set(streaming()?.capacity().load ?? 0); } });
  new Gauge({ name: 'coordinator_active_streams', help: 'Channels publishing now', registers: [registry], collect() { this.set(streaming()?.report().activeStreams.length ?? 0); } });

  const outbox = () => runtime.optionalService('event-callbacks')?.stats();
  new Gauge({ name: 'coordinator_callback_outbox_depth', help: 'Callbacks waiting in the outbox', registers: [registry], collect() { this.set(outbox()?.depth ?? 0); } });
  new Gauge({ name: 'coordinator_callback_oldest_undelivered_seconds', help: 'Age of the oldest undelivered callback', registers: [registry], collect() { this.set((outbox()?.oldestAgeMs ?? 0) / 1000); } });
  readCounter(registry, 'coordinator_callback_retries_total', 'Callback retries', () => outbox()?.retries ?? 0);
  readCounter(registry, 'coordinator_callback_delivered_total', 'Callbacks delivered', () => outbox()?.delivered ?? 0);
  new Gauge({ name: 'coordinator_callback_unstored_events', help: 'Events waiting in memory because the outbox could not store them (full disk, locked database)', registers: [registry], collect() { this.set(outbox()?.unstored ?? 0); } });
  readCounter(registry, 'coordinator_callback_store_failures_total', 'Outbox writes that failed (full disk, locked database, I/O error)', () => outbox()?.storeFailures ?? 0);
  readCounter(registry, 'coordinator_callback_lost_events_total', 'Events dropped because the in-memory queue for unstorable events was full', () => outbox()?.lost ?? 0);
  new Gauge({ name: 'coordinator_callback_dead_letters', help: 'Callbacks in the dead-letter table', registers: [registry], collect() { this.set(outbox()?.deadLetters ?? 0); } });
  return registry;
}
