// Event callbacks: stream-available / stream-closed POSTed to the
// application's EVENT_CALLBACK_URL with the original's headers, retried until
// it answers 200 — durably (SQLite outbox), in order per stream, with backoff,
// a delivery id, a per-stream sequence number and an optional signature.

import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { definePlugin } from '../../core/plugin.js';
import type { CoordinatorEvent } from '../../core/events.js';
import { webhookAuthorization, webhookEnv, webhookOptionsSchema, type WebhookOptions } from '../shared/webhook-auth.js';
import { overlay, type Env } from '../shared/env.js';
import { Outbox, type OutboxRow } from './outbox.js';
import { SIGNATURE_HEADER, sign } from './signature.js';

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
}

export interface EventCallbacksStats {
  depth: number;
  oldestAgeMs: number;
  deadLetters: number;
  delivered: number;
  retries: number;
  inFlight: number;
}

export interface EventCallbacksService {
  stats(): EventCallbacksStats;
  /** Resolves when the outbox is empty (or after timeoutMs); for tests and drain. */
  idle(timeoutMs: number): Promise<boolean>;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...webhookOptionsSchema,
    requestTimeoutMs: { type: 'integer', minimum: 1, maximum: 300_000, default: 10_000 },
    retryDelayMs: { type: 'integer', minimum: 1, default: 1_000 },
    maxRetryDelayMs: { type: 'integer', minimum: 1, default: 60_000 },
    deadLetterAfterMs: { type: 'integer', minimum: 1, default: 7 * 24 * 3_600_000 },
    concurrency: { type: 'integer', minimum: 1, maximum: 256, default: 8 },
    signingSecrets: { type: 'array', items: { type: 'string', minLength: 16 }, maxItems: 2, default: [] },
    databaseFile: { type: 'string', default: '' },
    importActiveStreamsFile: { type: 'string', default: '' },
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

/** A header value may not carry control characters (an encoder-supplied value could). */
function headerSafe(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v.replace(/[\u0000-\u001f\u007f]/g, '');
  return out;
}

export const eventCallbacks = definePlugin<EventCallbacksOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  apply(api, fileOptions) {
    const { log, config } = api;
    const options = overlay(fileOptions, eventCallbacksEnv(api.runtime.env));
    const auth = webhookAuthorization(options);
    const file = options.databaseFile || path.join(config.dataDir, 'events.sqlite');
    const agent = new Agent({ keepAliveTimeout: 10_000, connections: options.concurrency });
    const busy = new Set<string>();
    const attempts = new Set<Promise<void>>();
    let outbox: Outbox | undefined;
    let timer: NodeJS.Timeout | undefined;
    let running = false;
    let delivered = 0;
    let retries = 0;
    let idleWaiters: Array<() => void> = [];

    function notifyIdle(): void {
      // Counting the outbox costs a scan: only when someone waits for it to empty.
      if (idleWaiters.length === 0 || !outbox || busy.size > 0 || outbox.stats().depth > 0) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }

    async function post(row: OutboxRow): Promise<void> {
      const headers: Record<string, string> = {
        ...headerSafe(row.headers),
        'x-delivery-id': row.deliveryId,
        'x-event-sequence': String(row.seq),
      };
      if (auth !== undefined) headers.authorization = auth;
      let body = '';
      if (options.signingSecrets.length > 0) {
        body = JSON.stringify({ deliveryId: row.deliveryId, sequence: row.seq, type: row.type, channel: row.channel, streamId: row.streamId, headers: row.headers, createdAt: row.createdAt });
        headers['content-type'] = 'application/json';
        headers[SIGNATURE_HEADER] = sign(options.signingSecrets, Math.floor(Date.now() / 1000), row.deliveryId, body);
      }
      const res = await request(options.url, {
        method: 'POST', headers, body, dispatcher: agent,
        signal: AbortSignal.timeout(options.requestTimeoutMs),
        headersTimeout: options.requestTimeoutMs, bodyTimeout: options.requestTimeoutMs,
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`application answered ${res.statusCode}`);
    }

    async function attempt(row: OutboxRow): Promise<void> {
      try {
        if (options.url) await post(row);
        outbox?.delivered(row);
        delivered += 1;
        log.debug({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, seq: row.seq }, 'callback delivered');
      } catch (err) {
        if (!outbox) return;
        const error = (err as Error).message;
        const now = Date.now();
        if (now - row.createdAt >= options.deadLetterAfterMs) {
          outbox.deadLetter(row, error, now);
          log.error({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, attempts: row.attempts + 1, error }, 'callback moved to dead letters');
          return;
        }
        const backoff = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** Math.min(row.attempts, 30));
        const delay = backoff / 2 + Math.random() * (backoff / 2);
        outbox.retryLater(row, now + delay, error);
        retries += 1;
        log.warn({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, attempt: row.attempts + 1, retryInMs: Math.round(delay), error }, 'callback not accepted; will retry');
      }
    }

    function pump(): void {
      if (!running || !outbox) return;
      if (timer) { clearTimeout(timer); timer = undefined; }
      while (busy.size < options.concurrency) {
        const row = outbox.nextDue(Date.now(), busy);
        if (!row) break;
        busy.add(row.streamKey);
        const work = attempt(row).finally(() => {
          busy.delete(row.streamKey);
          attempts.delete(work);
          pump();
          notifyIdle();
        });
        attempts.add(work);
      }
      const wakeAt = outbox.nextWakeAt(busy);
      if (wakeAt !== undefined && busy.size < options.concurrency) {
        timer = setTimeout(pump, Math.max(0, wakeAt - Date.now()));
      }
      notifyIdle();
    }

    function onEvent(event: CoordinatorEvent): void {
      if (!outbox) return;
      if (event.type === STREAM_AVAILABLE) {
        const data = event.data as unknown as StreamAvailableEvent;
        outbox.announce(data.channel, data.streamId);
        outbox.enqueue('stream-available', data.channel, data.streamId, availableHeaders(data));
      } else if (event.type === STREAM_CLOSED) {
        const data = event.data as unknown as StreamClosedEvent;
        if (!outbox.startClose(data.channel, data.streamId, closedHeaders(data))) return;
      } else {
        return;
      }
      setImmediate(pump);
    }

    // Written to disk synchronously inside the event: once emit() returns, the event survives a crash.
    api.hooks.onEvent.tap(PLUGIN_NAME, onEvent);

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

    api.provide<EventCallbacksService>(EVENT_CALLBACKS_SERVICE, {
      stats: () => ({ ...(outbox?.stats() ?? { depth: 0, oldestAgeMs: 0, deadLetters: 0 }), delivered, retries, inFlight: busy.size }),
      idle: (timeoutMs) => new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), timeoutMs);
        idleWaiters.push(() => { clearTimeout(t); resolve(true); });
        notifyIdle();
      }),
    });

    api.readiness(() => outbox !== undefined);
    api.onStart(() => {
      outbox = new Outbox(file);
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
      running = false;
      if (timer) clearTimeout(timer);
      // Attempts in flight finish (bounded by requestTimeoutMs); what is left stays on disk for the next start.
      await Promise.allSettled([...attempts]);
      outbox?.close();
      outbox = undefined;
      await agent.close();
    });
  },
});
