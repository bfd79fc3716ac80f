// The console's history: one sample per interval of what an operator charts
// (request rates by outcome, latency p50/p99, publish decisions, callback
// deliveries and outbox depth, stream-proxy throughput, encoder load), kept
// in fixed-size ring buffers (Float32Array per series), so the charts are
// full the moment the page opens. With the defaults (2 s × 1,800 points: one
// hour) the whole history takes about 120 KB.
//
// Counts between samples come from runtime.telemetry; gauges are read from
// the plugins' services when a sample is taken.

import type { RequestTelemetry } from '../../core/runtime.js';
import { BoundedLabels, OTHER } from './labels.js';

export const SERIES = [
  'ok', 'error', 'timeout', // requests/s by outcome
  'p50', 'p99', // request latency, ms (null: no request in the interval)
  'accepted', 'denied', // publish decisions per minute
  'delivered', 'retries', // callbacks/s
  'outboxDepth', 'outboxOldestSec', 'deadLetters',
  'proxyBytesPerSec',
  'encoderLoad', 'encoderCapacity', 'inFlight',
] as const;
export type SeriesName = typeof SERIES[number];

/** What the sampler reads from the services at each tick. */
export interface Gauges {
  outboxDepth: number;
  outboxOldestSec: number;
  deadLetters: number;
  /** Monotonic counters: the history keeps their rate. */
  deliveredTotal: number;
  retriesTotal: number;
  proxyBytesTotal: number;
  encoderLoad: number;
  /** -1: unlimited. */
  encoderCapacity: number;
  inFlight: number;
}

export interface Sample {
  t: number;
  values: Record<SeriesName, number | null>;
  /** Publish denials in this interval by reason. */
  denials: Record<string, number>;
}

export interface HistoryJson {
  intervalMs: number;
  points: number;
  /** Sample times, seconds since the epoch (uPlot's x axis). */
  t: number[];
  series: Record<SeriesName, Array<number | null>>;
  /** Denial reasons over the whole window, most frequent first. */
  topDenials: Array<{ reason: string; count: number }>;
}

// Latency buckets: 0.1 ms × 1.25^k, up to ~3 min; a percentile is its bucket's upper bound.
const BUCKET_BASE = 0.1;
const BUCKET_GROWTH = 1.25;
const BUCKETS = 68;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);

function bucketOf(ms: number): number {
  if (ms <= BUCKET_BASE) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / BUCKET_BASE) / LOG_GROWTH));
}

function bucketUpper(index: number): number {
  return BUCKET_BASE * BUCKET_GROWTH ** index;
}

const MAX_REASONS = 16;

export class History {
  private readonly times: Float64Array;
  private readonly data: Record<SeriesName, Float32Array>;
  private readonly denialRing: Array<Map<string, number> | undefined>;
  private head = 0;
  private count = 0;
  // The interval being counted.
  private ok = 0;
  private error = 0;
  private timeout = 0;
  private accepted = 0;
  private denied = 0;
  private denials = new Map<string, number>();
  private readonly reasons = new BoundedLabels(MAX_REASONS, 40);
  private readonly latency = new Uint32Array(BUCKETS);
  private last: Gauges | undefined;
  private lastAt = 0;

  constructor(readonly intervalMs: number, readonly points: number) {
    this.times = new Float64Array(points);
    this.data = Object.fromEntries(SERIES.map((name) => [name, new Float32Array(points)])) as Record<SeriesName, Float32Array>;
    this.denialRing = new Array<Map<string, number> | undefined>(points);
  }

  /** A settled request (runtime.telemetry 'request'). */
  request(e: RequestTelemetry): void {
    if (e.outcome === 'ok' || e.outcome === 'forwarded') this.ok += 1;
    else if (e.outcome === 'ERR_TIMEOUT') this.timeout += 1;
    else this.error += 1;
    this.latency[bucketOf(e.durationMs)]! += 1;
  }

  /** A publish decision (runtime.telemetry 'publish'). */
  publish(e: { accepted: boolean; reason: string }): void {
    if (e.accepted) {
      this.accepted += 1;
      return;
    }
    this.denied += 1;
    const reason = this.reasons.of(e.reason);
    this.denials.set(reason, (this.denials.get(reason) ?? 0) + 1);
  }

  /** Close the current interval: one point per series. */
  sample(gauges: Gauges, now = Date.now()): Sample {
    const seconds = this.last ? Math.max(0.001, (now - this.lastAt) / 1000) : this.intervalMs / 1000;
    const rate = (current: number, previous: number | undefined) => (previous === undefined ? 0 : Math.max(0, current - previous) / seconds);
    const total = this.ok + this.error + this.timeout;
    const values: Record<SeriesName, number | null> = {
      ok: this.ok / seconds,
      error: this.error / seconds,
      timeout: this.timeout / seconds,
      p50: total > 0 ? this.percentile(total, 0.5) : null,
      p99: total > 0 ? this.percentile(total, 0.99) : null,
      accepted: (this.accepted * 60) / seconds,
      denied: (this.denied * 60) / seconds,
      delivered: rate(gauges.deliveredTotal, this.last?.deliveredTotal),
      retries: rate(gauges.retriesTotal, this.last?.retriesTotal),
      outboxDepth: gauges.outboxDepth,
      outboxOldestSec: gauges.outboxOldestSec,
      deadLetters: gauges.deadLetters,
      proxyBytesPerSec: rate(gauges.proxyBytesTotal, this.last?.proxyBytesTotal),
      encoderLoad: gauges.encoderLoad,
      encoderCapacity: gauges.encoderCapacity,
      inFlight: gauges.inFlight,
    };
    const slot = this.head;
    this.times[slot] = now / 1000;
    for (const name of SERIES) this.data[name][slot] = values[name] ?? Number.NaN;
    this.denialRing[slot] = this.denials.size > 0 ? this.denials : undefined;
    const denials = Object.fromEntries(this.denials);
    this.head = (this.head + 1) % this.points;
    this.count = Math.min(this.points, this.count + 1);
    this.ok = this.error = this.timeout = this.accepted = this.denied = 0;
    this.denials = new Map();
    this.latency.fill(0);
    this.last = gauges;
    this.lastAt = now;
    return { t: now / 1000, values, denials };
  }

  private percentile(total: number, q: number): number {
    const rank = Math.ceil(total * q);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i += 1) {
      seen += this.latency[i]!;
      if (seen >= rank) return Math.round(bucketUpper(i) * 100) / 100;
    }
    return bucketUpper(BUCKETS - 1);
  }

  /** The whole window, oldest first. */
  toJSON(): HistoryJson {
    const start = (this.head - this.count + this.points) % this.points;
    const t: number[] = [];
    const series = Object.fromEntries(SERIES.map((name) => [name, [] as Array<number | null>])) as HistoryJson['series'];
    const totals = new Map<string, number>();
    for (let i = 0; i < this.count; i += 1) {
      const slot = (start + i) % this.points;
      t.push(this.times[slot]!);
      for (const name of SERIES) {
        const v = this.data[name][slot]!;
        series[name].push(Number.isNaN(v) ? null : v);
      }
      for (const [reason, n] of this.denialRing[slot] ?? []) totals.set(reason, (totals.get(reason) ?? 0) + n);
    }
    const topDenials = [...totals].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || (a.reason === OTHER ? 1 : -1));
    return { intervalMs: this.intervalMs, points: this.points, t, series, topDenials };
  }
}
