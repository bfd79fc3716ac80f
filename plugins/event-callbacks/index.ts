// Event callbacks: stream-available / stream-closed POSTed to the
// application's EVENT_CALLBACK_URL with the original's headers, retried until
// it answers 200 — durably (SQLite outbox), in order per stream, with backoff,
// a delivery id, a per-stream sequence number and an optional signature.

import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { InFlight } from '../../core/in-flight.js';
import type { CoordinatorEvent } from '../../core/events.js';
import { webhookAuthorization, webhookEnv, webhookOptionsSchema, webhookProblems, type WebhookOptions } from '../shared/webhook-auth.js';
import type { Env } from '../shared/env.js';
import { Outbox, streamKeyOf, type OutboxRow } from './outbox.js';
import { traceHeaders } from '../../core/trace-context.js';
import { SIGNATURE_HEADER, sign } from './signature.js';
import { ClusterDelivery } from './cluster-delivery.js';
import { permanent, retryDelay } from './retry.js';
import { DeadlineSignals } from '../shared/deadline-signals.js';
import { smallPost } from '../shared/small-post.js';
import { LazyAgent } from '../shared/lazy-agent.js';
import type { EventLog } from '../cluster/index.js';

export const PLUGIN_NAME = 'event-callbacks';
export const EVENT_CALLBACKS_SERVICE = 'event-callbacks';

import { STREAM_AVAILABLE, STREAM_CLOSED, type StreamAvailableEvent, type StreamClosedEvent } from '../shared/stream-events.js';

export { STREAM_AVAILABLE, STREAM_CLOSED, type StreamAvailableEvent, type StreamClosedEvent };

/**
 * url: EVENT_CALLBACK_URL (empty: nothing is sent; events count as delivered);
 * auth/user/password/token/custom: EVENT_CALLBACK_AUTH, _AUTH_USER, _PASSWORD, _AUTH_TOKEN, _AUTH_CUSTOM.
 */
export interface EventCallbacksOptions extends WebhookOptions {
  /** One POST must finish within this, ms. */
  requestTimeoutMs: number;
  /** First retry delay, ms; doubles per attempt up to maxRetryDelayMs, with jitter. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** An event still undelivered after this long moves to the dead-letter table (counted, never silently dropped), ms. */
  deadLetterAfterMs: number;
  /** Streams delivered in parallel (events of one stream are always in order). */
  concurrency: number;
  /** HMAC secrets; when set every callback carries a JSON body and x-coordinator-signature (first secret current, second during rotation). */
  signingSecrets: string[];
  /** SQLite file; default <dataDir>/events.sqlite. */
  databaseFile: string;
  /** The original's active_streams.txt to take over once (its streams get stream-closed at boot). */
  importActiveStreamsFile: string;
  /** The outbox file may not grow past this many bytes (0: no limit); past it events wait in memory, as on a full disk. */
  maxDatabaseBytes: number;
  /** Events kept in memory while the outbox cannot store them (full disk, locked database); past this they are counted as lost. */
  maxUnstoredEvents: number;
}

export interface EventCallbacksStats {
  depth: number;
  oldestAgeMs: number;
  deadLetters: number;
  delivered: number;
  retries: number;
  inFlight: number;
  /** Events waiting in memory because the outbox could not store them yet. */
  unstored: number;
  /** Writes to the outbox that failed (full disk, locked database, I/O error) since start. */
  storeFailures: number;
  /** Events dropped because even the in-memory queue was full. */
  lost: number;
}

/** One stream's callback delivery, as the console shows it. */
export interface StreamDeliveryState {
  /** Callbacks of this stream waiting in the outbox. */
  pending: number;
  /** Most attempts any waiting callback has had. */
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  deadLetters: number;
  /** Delivered since this process started. */
  delivered: number;
  lastDeliveredAt: number | null;
}

export interface EventCallbacksService {
  stats(): EventCallbacksStats;
  /** One stream's delivery state (null while the outbox is closed or unreadable). */
  streamState(channel: string, streamId: string): StreamDeliveryState | null;
  /** Move dead-lettered callbacks (oldest first, at most `limit`) back into the outbox to be sent again; resolves to how many. */
  retryDeadLetters(limit?: number): Promise<number>;
  /** Resolves when the outbox is empty (or after timeoutMs); for tests and drain. */
  idle(timeoutMs: number): Promise<boolean>;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...webhookOptionsSchema('EVENT_CALLBACK'),
    requestTimeoutMs: { description: "One callback POST must finish within this, ms.", type: 'integer', minimum: 1, maximum: 300_000, default: 10_000 },
    retryDelayMs: { description: "First retry delay, ms; doubles per attempt up to maxRetryDelayMs, with jitter.", type: 'integer', minimum: 1, default: 1_000 },
    maxRetryDelayMs: { description: "Longest retry delay, ms.", type: 'integer', minimum: 1, default: 60_000 },
    deadLetterAfterMs: { description: "An event still undelivered after this long moves to the dead-letter table (counted, never silently dropped), ms.", type: 'integer', minimum: 1, default: 7 * 24 * 3_600_000 },
    concurrency: { description: "Streams delivered in parallel (the events of one stream are always in order).", type: 'integer', minimum: 1, maximum: 256, default: 8 },
    signingSecrets: { description: "HMAC secrets (at least 16 characters each, at most two): every callback then carries a JSON body and x-coordinator-signature; the first signs, the second is accepted during rotation.", type: 'array', items: { type: 'string', minLength: 16 }, maxItems: 2, default: [] },
    databaseFile: { description: "SQLite file of the outbox; default <dataDir>/events.sqlite.", type: 'string', default: '' },
    importActiveStreamsFile: { description: "The original's active_streams.txt to take over once: its streams get stream-closed at boot.", type: 'string', default: '' },
    maxDatabaseBytes: { description: "The outbox file may not grow past this many bytes (0: no limit); past it events wait in memory, as on a full disk.", type: 'integer', minimum: 0, default: 0 },
    maxUnstoredEvents: { description: "Events kept in memory while the outbox cannot store them (full disk, locked database); past this they are counted as lost.", type: 'integer', minimum: 1, maximum: 10_000_000, default: 100_000 },
  },
};

/** The original's environment variables (EVENT_CALLBACK_*), which override the config file. */
export function eventCallbacksEnv(env: Env): Partial<EventCallbacksOptions> {
  return webhookEnv(env, 'EVENT_CALLBACK');
}

function availableHeaders(e: StreamAvailableEvent): Record<string, string> {
  const headers: Record<string, string> = {
    'x-streaming-channel': e.channel,
    'x-streaming-id': e.streamId,
    'x-event-type': 'stream-available',
    'x-stream-type': e.streamType ?? '',
    'x-resolution': e.resolution ?? '',
    'x-index-file': e.indexFile ?? '',
  };
  if (e.startTime) headers['x-start-time'] = e.startTime;
  return headers;
}

function closedHeaders(e: StreamClosedEvent): Record<string, string> {
  return { 'x-streaming-channel': e.channel, 'x-streaming-id': e.streamId, 'x-event-type': 'stream-closed' };
}

/**
 * A header value as bytes HTTP can carry: no control characters (an
 * encoder-supplied value could hold some), and text beyond ASCII sent as its
 * UTF-8 bytes, as the original sent it (`1280x720-30™` would otherwise be
 * refused by the HTTP client and block its stream's queue).
 */
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

export function headerValue(value: string): string {
  // The common case (plain ASCII) is checked once and kept as it is.
  if (PRINTABLE_ASCII.test(value)) return value;
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '');
  // eslint-disable-next-line no-control-regex
  return PRINTABLE_ASCII.test(clean) ? clean : Buffer.from(clean, 'utf8').toString('latin1');
}

/** The event's headers as they can go on the wire, in a new object the delivery adds its own to (one object per attempt). */
function headerSafe(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) out[name] = headerValue(headers[name]!);
  return out;
}

type PendingEvent = { type: typeof STREAM_AVAILABLE; data: StreamAvailableEvent } | { type: typeof STREAM_CLOSED; data: StreamClosedEvent };

export const eventCallbacks = definePlugin<EventCallbacksOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  env: eventCallbacksEnv,
  check(options, { config }) {
    const problems = webhookProblems(options, 'EVENT_CALLBACK_URL');
    if (!options.databaseFile && !config.dataDir) {
      problems.push({ path: 'databaseFile', message: 'event-callbacks keeps its durable outbox on disk and has no place for it: set dataDir (or COORDINATOR_DATA_DIR) or the databaseFile option' });
    }
    return problems;
  },
  async apply(api, options) {
    const { log, config } = api;
    const auth = webhookAuthorization(options);
    // Per-delivery debug lines are built only when they are written.
    const debug = log.isLevelEnabled('debug');
    const file = options.databaseFile || path.join(config.dataDir!, 'events.sqlite');
    const agent = new LazyAgent({ keepAliveTimeout: 10_000, connections: options.concurrency });
    // One POST within requestTimeoutMs, all told (one timer for all of them: see deadline-signals.ts).
    const deadlines = new DeadlineSignals(options.requestTimeoutMs);
    const callbackUrl = options.url ? new URL(options.url) : undefined;
    /** POSTs under way (a count: see core/in-flight.ts). */
    const attempts = new InFlight();
    let outbox: Outbox | undefined;
    let timer: NodeJS.Timeout | undefined;
    let running = false;
    let delivered = 0;
    let retries = 0;
    let idleWaiters: Array<() => void> = [];

    function notifyIdle(): void {
      if (idleWaiters.length === 0 || !outbox || posting > 0 || outbox.deliveredPending > 0 || unstored.length > 0) return;
      if (!outbox.empty) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }

    async function post(row: Pick<OutboxRow, 'deliveryId' | 'seq' | 'type' | 'channel' | 'streamId' | 'headers' | 'createdAt'>): Promise<void> {
      const headers = headerSafe(row.headers);
      headers['x-delivery-id'] = row.deliveryId;
      headers['x-event-sequence'] = String(row.seq);
      if (auth !== undefined) headers.authorization = auth;
      let body = '';
      if (options.signingSecrets.length > 0) {
        body = JSON.stringify({ deliveryId: row.deliveryId, sequence: row.seq, type: row.type, channel: row.channel, streamId: row.streamId, headers: row.headers, createdAt: row.createdAt });
        headers['content-type'] = 'application/json';
        headers[SIGNATURE_HEADER] = sign(options.signingSecrets, Math.floor(Date.now() / 1000), row.deliveryId, body);
      }
      // With the tracing plugin: each attempt is a span, and the application gets its traceparent.
      const traced = api.runtime.optionalService('tracing')?.outgoing(`callback ${row.type}`, { 'coordinator.delivery.id': row.deliveryId, 'coordinator.channel': row.channel.slice(0, 128), 'coordinator.sequence': row.seq });
      try {
        const res = await smallPost(agent, callbackUrl!, {
          headers: traceHeaders(headers, traced?.traceContext), body, deadlines,
          headersTimeout: options.requestTimeoutMs, bodyTimeout: options.requestTimeoutMs,
        });
        if (res.statusCode !== 200) throw new Error(`application answered ${res.statusCode}`);
        traced?.end();
      } catch (err) {
        traced?.end((err as Error).message);
        throw err;
      }
    }

    // The outbox may refuse a write (full disk, a lock held by another process,
    // an I/O error). Nothing waits on it synchronously: events wait in memory
    // (in order) and the delivery loop pauses, both retried with backoff.
    const unstored: PendingEvent[] = [];
    let storeFailures = 0;
    let lost = 0;
    let storeBackoffMs = 0;
    let storeTimer: NodeJS.Timeout | undefined;
    let pumpPausedUntil = 0;

    function storeFailed(err: unknown, what: string): void {
      storeFailures += 1;
      const first = storeBackoffMs === 0;
      storeBackoffMs = Math.min(5_000, Math.max(50, storeBackoffMs * 2));
      if (first) log.error({ err: (err as Error).message, code: (err as { code?: string }).code, what }, 'event outbox cannot write; events wait in memory and are retried (readiness: not ready)');
    }

    function storeRecovered(): void {
      if (storeBackoffMs === 0) return;
      storeBackoffMs = 0;
      log.info({ storeFailures }, 'event outbox writes again');
    }

    /** Write one event; throws when the outbox refuses it. */
    function store(into: Outbox, event: PendingEvent): boolean {
      if (event.type === STREAM_AVAILABLE) {
        into.announceAndEnqueue(event.data.channel, event.data.streamId, availableHeaders(event.data));
        return true;
      }
      return into.startClose(event.data.channel, event.data.streamId, closedHeaders(event.data)) !== undefined;
    }

    function keep(event: PendingEvent): void {
      if (unstored.length >= options.maxUnstoredEvents) {
        lost += 1;
        log.error({ type: event.type, channel: event.data.channel, streamId: event.data.streamId, maxUnstoredEvents: options.maxUnstoredEvents }, 'event LOST: the outbox cannot write and the in-memory queue is full');
        return;
      }
      unstored.push(event);
      if (!storeTimer) {
        storeTimer = setTimeout(flushUnstored, storeBackoffMs);
        storeTimer.unref();
      }
    }

    function flushUnstored(): void {
      storeTimer = undefined;
      if (!outbox) return;
      let stored = false;
      while (unstored.length > 0) {
        try {
          store(outbox, unstored[0]!);
        } catch (err) {
          storeFailed(err, 'retrying events kept in memory');
          storeTimer = setTimeout(flushUnstored, storeBackoffMs);
          storeTimer.unref();
          break;
        }
        unstored.shift();
        stored = true;
      }
      if (unstored.length === 0) storeRecovered();
      if (stored) schedulePump();
    }

    // Deliveries per stream since start, for the console (bounded: the oldest stream is forgotten first).
    const deliveredPerStream = new Map<string, { count: number; at: number }>();
    function noteDelivered(streamKey: string): void {
      const entry = deliveredPerStream.get(streamKey);
      if (entry) {
        entry.count += 1;
        entry.at = Date.now();
        return;
      }
      if (deliveredPerStream.size >= 10_000) deliveredPerStream.delete(deliveredPerStream.keys().next().value!);
      deliveredPerStream.set(streamKey, { count: 1, at: Date.now() });
    }

    // Delivered rows are deleted in batches: a commit costs far more than the
    // rows it deletes. A delivered row frees its stream at once (its next
    // event goes out without waiting for the delete): after a crash, rows
    // delivered since the last batch are sent again, in order, with their
    // delivery ids (at-least-once, as a crash between a POST and its record
    // always allowed). The batch is written with the next group of events,
    // when it reaches DELETE_BATCH rows, when nothing is being posted, or
    // DELETE_WAIT_MS after its first row: what a crash can send twice is at
    // most that. Larger batches cost less per row (fewer commits, and runs of
    // consecutive ids deleted by one statement: see bench/outbox.bench.ts). A
    // failed write keeps the rows for the next batch.
    const DELETE_BATCH = 1024;
    const DELETE_WAIT_MS = 20;
    let deliveredTimer: NodeJS.Timeout | undefined;
    let deliveredImmediate = false;
    let posting = 0;

    function flushDelivered(): void {
      if (deliveredTimer) { clearTimeout(deliveredTimer); deliveredTimer = undefined; }
      deliveredImmediate = false;
      if (!outbox || outbox.deliveredPending === 0) return;
      try {
        outbox.flushDelivered();
        // Space was freed: events waiting in memory try again now rather than after their backoff.
        if (unstored.length > 0) {
          if (storeTimer) clearTimeout(storeTimer);
          storeTimer = setTimeout(flushUnstored, 0);
          storeTimer.unref();
        }
      } catch (err) {
        // Kept for the next batch; if the process stops first they are sent again (same delivery ids).
        storeFailed(err, 'deleting delivered callbacks');
        deliveredTimer = setTimeout(flushDelivered, storeBackoffMs);
        deliveredTimer.unref();
      }
      notifyIdle();
    }

    /** After each attempt: write the delivered batch now (next turn) or soon. */
    function scheduleDeliveredFlush(): void {
      const pending = outbox?.deliveredPending ?? 0;
      if (pending === 0 || deliveredImmediate) return;
      if (posting === 0 || pending >= DELETE_BATCH || !running) {
        deliveredImmediate = true;
        setImmediate(flushDelivered);
      } else if (!deliveredTimer) {
        deliveredTimer = setTimeout(flushDelivered, DELETE_WAIT_MS);
      }
    }

    /** Post one row: delivered (its stream goes on; the row is deleted with the next batch), retried later, or dead-lettered. */
    async function attempt(row: OutboxRow): Promise<void> {
      let error: string;
      let deadNow = false;
      try {
        if (options.url) await post(row);
        delivered += 1;
        noteDelivered(row.streamKey);
        if (debug) log.debug({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, seq: row.seq }, 'callback delivered');
        outbox?.markDelivered(row);
        return;
      } catch (err) {
        error = (err as Error).message;
        deadNow = permanent(err);
      }
      if (!outbox) return;
      const now = Date.now();
      try {
        if (deadNow || now - row.createdAt >= options.deadLetterAfterMs) {
          outbox.deadLetter(row, error, now);
          log.error({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, attempts: row.attempts + 1, error, permanent: deadNow }, 'callback moved to dead letters');
          return;
        }
        const delay = retryDelay(row.attempts, options.retryDelayMs, options.maxRetryDelayMs);
        outbox.retryLater(row, now + delay, error);
        retries += 1;
        log.warn({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, attempt: row.attempts + 1, retryInMs: Math.round(delay), error }, 'callback not accepted; will retry');
      } catch (err) {
        // The row stays as it was; the loop pauses instead of retrying it hot.
        storeFailed(err, 'rescheduling a callback');
        pumpPausedUntil = now + Math.max(storeBackoffMs, options.retryDelayMs);
        outbox.release(row);
      }
    }

    // One pump per event-loop turn, however many deliveries finished or events arrived in it.
    let pumpScheduled = false;
    function schedulePump(): void {
      if (pumpScheduled) return;
      pumpScheduled = true;
      setImmediate(() => {
        pumpScheduled = false;
        pump();
      });
    }

    /** After each attempt (whatever its outcome: attempt() handles it). */
    function attemptDone(): void {
      posting -= 1;
      scheduleDeliveredFlush();
      // The freed slot takes the next due row now (its connection is free now), not a loop turn later.
      if (!pumpScheduled) pump();
      notifyIdle();
    }

    function pump(): void {
      if (!running || !outbox) return;
      if (timer) { clearTimeout(timer); timer = undefined; }
      const now = Date.now();
      if (pumpPausedUntil > now) {
        timer = setTimeout(pump, pumpPausedUntil - now);
        return;
      }
      try {
        const { due, wakeAt } = outbox.nextBatch(Date.now(), options.concurrency - posting);
        for (const row of due) {
          posting += 1;
          attempts.track(attempt(row).then(attemptDone, attemptDone));
        }
        if (wakeAt !== undefined && posting < options.concurrency) {
          timer = setTimeout(pump, Math.max(0, wakeAt - Date.now()));
        }
      } catch (err) {
        storeFailed(err, 'reading the outbox');
        pumpPausedUntil = Date.now() + storeBackoffMs;
        timer = setTimeout(pump, storeBackoffMs);
      }
      notifyIdle();
    }

    // Group commit: the events of one event-loop turn are written in one
    // transaction at the end of the turn; each emit() resolves once its event
    // is on disk (or, while the disk refuses it, waits in memory and /readyz
    // says not ready).
    let group: PendingEvent[] = [];
    let groupWritten: Promise<void> | undefined;

    function writeGroup(): void {
      const events = group;
      group = [];
      groupWritten = undefined;
      if (events.length === 0 || !outbox) return;
      // Order is kept: once one event waits in memory, later ones wait behind it.
      if (unstored.length > 0) {
        for (const event of events) keep(event);
        return;
      }
      const into = outbox;
      try {
        into.batch(() => {
          for (const event of events) store(into, event);
        });
      } catch (err) {
        storeFailed(err, `storing ${events.length} event(s)`);
        for (const event of events) keep(event);
        return;
      }
      storeRecovered();
      schedulePump();
    }

    function onEvent(event: CoordinatorEvent): Promise<void> | undefined {
      let pending: PendingEvent;
      if (event.type === STREAM_AVAILABLE) pending = { type: STREAM_AVAILABLE, data: event.data as unknown as StreamAvailableEvent };
      else if (event.type === STREAM_CLOSED) pending = { type: STREAM_CLOSED, data: event.data as unknown as StreamClosedEvent };
      else return undefined;
      if (cluster) {
        const headers = pending.type === STREAM_AVAILABLE ? availableHeaders(pending.data) : closedHeaders(pending.data);
        return cluster.append(pending.type === STREAM_AVAILABLE ? 'stream-available' : 'stream-closed', pending.data.channel, pending.data.streamId, headers);
      }
      if (!outbox) return undefined;
      group.push(pending);
      groupWritten ??= new Promise<void>((resolve) => {
        setImmediate(() => {
          writeGroup();
          resolve();
        });
      });
      return groupWritten;
    }

    api.hooks.onEvent.tapPromise(PLUGIN_NAME, async (event) => onEvent(event));

    function importLegacy(store: Outbox): void {
      const legacy = options.importActiveStreamsFile;
      if (!legacy || store.meta('imported:active_streams') || !existsSync(legacy)) return;
      let count = 0;
      for (const line of readFileSync(legacy, 'utf8').split('\n')) {
        const parts = line.split(':');
        if (parts.length !== 2 || !parts[0] || !parts[1]) continue;
        store.announce(parts[0], parts[1]);
        count += 1;
      }
      store.setMeta('imported:active_streams', new Date().toISOString());
      log.info({ file: legacy, streams: count }, 'imported the original coordinator active streams');
    }

    // On a cluster (the cluster plugin's nats engine) the queue is the cluster's event log (see cluster-delivery.ts).
    let cluster: ClusterDelivery | undefined;
    function clusterEventLog(): EventLog | undefined {
      const state = api.runtime.optionalService('cluster.state');
      if (!state) return undefined;
      try {
        return state.eventLog;
      } catch {
        throw new CoordinatorError('ERR_CONFIG', 'the cluster plugin must be registered before event-callbacks (list it first in plugins)');
      }
    }

    api.provide(EVENT_CALLBACKS_SERVICE, {
      stats: () => {
        if (cluster) {
          const shared = cluster.stats();
          return { depth: shared.depth, oldestAgeMs: 0, deadLetters: shared.deadLetters, delivered: cluster.delivered, retries: cluster.retries, inFlight: cluster.posting, unstored: cluster.unstoredCount, storeFailures: cluster.storeFailures, lost: cluster.lost };
        }
        let stored = { depth: 0, oldestAgeMs: 0, deadLetters: 0 };
        try {
          if (outbox) stored = outbox.stats();
        } catch {
          // a locked or failing database: report what is known in memory
        }
        return { ...stored, delivered, retries, inFlight: posting, unstored: unstored.length, storeFailures, lost };
      },
      streamState(channel, streamId) {
        if (cluster) {
          const done = deliveredPerStream.get(streamKeyOf(channel, streamId));
          return { pending: 0, attempts: 0, nextAttemptAt: null, lastError: null, deadLetters: 0, delivered: done?.count ?? 0, lastDeliveredAt: done?.at ?? null };
        }
        if (!outbox) return null;
        try {
          const done = deliveredPerStream.get(streamKeyOf(channel, streamId));
          return { ...outbox.streamState(channel, streamId), delivered: done?.count ?? 0, lastDeliveredAt: done?.at ?? null };
        } catch {
          return null;
        }
      },
      async retryDeadLetters(limit = 10_000) {
        if (cluster) {
          const moved = await cluster.reviveDeadLetters(limit);
          if (moved > 0) log.info({ callbacks: moved }, 'dead-lettered callbacks queued again');
          return moved;
        }
        if (!outbox) throw new CoordinatorError('ERR_NOT_STARTED', 'the event outbox is not open (the coordinator is not started)');
        const moved = outbox.reviveDeadLetters(limit);
        if (moved > 0) {
          log.info({ callbacks: moved }, 'dead-lettered callbacks queued again');
          schedulePump();
        }
        return moved;
      },
      idle: (timeoutMs) => new Promise((resolve) => {
        if (cluster) {
          const t0 = Date.now();
          const poll = async () => {
            if (await cluster?.idle()) resolve(true);
            else if (Date.now() - t0 >= timeoutMs) resolve(false);
            else setTimeout(() => void poll(), 20);
          };
          void poll();
          return;
        }
        const t = setTimeout(() => resolve(false), timeoutMs);
        idleWaiters.push(() => { clearTimeout(t); resolve(true); });
        notifyIdle();
      }),
    });

    api.readiness(() => (cluster ? cluster.unstoredCount === 0 : outbox !== undefined && unstored.length === 0));
    api.onStart(() => {
      const eventLog = clusterEventLog();
      if (eventLog) {
        cluster = new ClusterDelivery(eventLog, options, { post, delivered: (event) => noteDelivered(streamKeyOf(event.channel, event.streamId)) }, log);
        cluster.start();
        if (!options.url) log.warn('EVENT_CALLBACK_URL is not set: stream events are not sent to any application');
        log.info({ queue: 'cluster event log', signed: options.signingSecrets.length > 0 }, 'callbacks go through the cluster\'s event log');
        return;
      }
      outbox = new Outbox(file, { maxBytes: options.maxDatabaseBytes });
      importLegacy(outbox);
      outbox.pruneGuards(Date.now() - options.deadLetterAfterMs);
      // Every stream that was live when we stopped is over: the application must hear it (as the original at boot).
      const leftovers = outbox.announcedWithoutClose();
      for (const s of leftovers) {
        outbox.clearGuard(s.streamId);
        outbox.startClose(s.channel, s.streamId, closedHeaders(s));
      }
      const stats = outbox.stats();
      if (!options.url) log.warn('EVENT_CALLBACK_URL is not set: stream events are not sent to any application');
      log.info({ file, pending: stats.depth, closedAtBoot: leftovers.length, deadLetters: stats.deadLetters, signed: options.signingSecrets.length > 0 }, 'event outbox open');
      running = true;
      pump();
    });
    api.onStop(async () => {
      if (cluster) {
        await cluster.stop();
        cluster = undefined;
      } else {
        await stopOutbox();
      }
      deadlines.close();
      await agent.close();
    });

    async function stopOutbox(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      if (storeTimer) clearTimeout(storeTimer);
      // The events of this turn, then a last try for events still in memory; what cannot be written is logged, not silently dropped.
      writeGroup();
      flushUnstored();
      if (storeTimer) clearTimeout(storeTimer);
      if (unstored.length > 0) log.error({ events: unstored.length }, 'stopping with events the outbox could not store: they are LOST');
      // Attempts in flight finish (bounded by requestTimeoutMs); what is left stays on disk for the next start.
      await attempts.idle();
      flushDelivered();
      outbox?.close();
      outbox = undefined;
    }
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'event-callbacks': EventCallbacksService;
  }
}
