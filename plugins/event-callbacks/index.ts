// Event callbacks: stream-available / stream-closed POSTed to the
// application's EVENT_CALLBACK_URL with the original's headers, retried until
// it answers 200 — durably (SQLite outbox), in order per stream, with backoff,
// a delivery id, a per-stream sequence number and an optional signature.
//
// This file wires: the options, the onEvent tap, the service. The outbox's
// delivery loop is delivery.ts, run on the delivery thread
// (delivery-thread.ts) or on the event loop; on a cluster the queue is the
// cluster's event log (cluster-delivery.ts).

import path from 'node:path';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import type { CoordinatorEvent } from '../../core/events.js';
import { webhookEnv, webhookOptionsSchema, webhookProblems } from '../shared/webhook-auth.js';
import type { Env } from '../shared/env.js';
import { outboxNotOpen, streamKeyOf } from './outbox.js';
import { ClusterDelivery } from './cluster-delivery.js';
import { availableHeaders, closedHeaders } from './callback-headers.js';
import { DeliveredCounts } from './delivered-counts.js';
import { outboxDelivery, type OutboxDelivery } from './delivery.js';
import { threadDelivery } from './delivery-thread.js';
import { callbackPoster, type AttemptTracer } from './post.js';
import type { EventCallbacksOptions, EventCallbacksService, PendingEvent } from './types.js';
import type { EventLog } from '../cluster/index.js';
import { STREAM_AVAILABLE, STREAM_CLOSED, type StreamAvailableEvent, type StreamClosedEvent } from '../shared/stream-events.js';

export const PLUGIN_NAME = 'event-callbacks';
export const EVENT_CALLBACKS_SERVICE = 'event-callbacks';

export { STREAM_AVAILABLE, STREAM_CLOSED, type StreamAvailableEvent, type StreamClosedEvent };
export type { EventCallbacksOptions, EventCallbacksService, EventCallbacksStats, StreamDeliveryState } from './types.js';
export { headerValue } from './callback-headers.js';

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
    deliveryThread: { description: "Keep the outbox and send the callbacks on a thread of their own (one per process, started with the first event, or at start when the outbox has work left), beside the event loop rather than on it: about half the event loop's time per callback and no SQLite write on it, for ~10 MiB of memory while the thread runs. false: on the event loop. With the tracing plugin they are always sent on the event loop (each attempt is a span).", type: 'boolean', default: true },
  },
};

/** The original's environment variables (EVENT_CALLBACK_*), which override the config file. */
export function eventCallbacksEnv(env: Env): Partial<EventCallbacksOptions> {
  return webhookEnv(env, 'EVENT_CALLBACK');
}

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
    const file = options.databaseFile || path.join(config.dataDir!, 'events.sqlite');
    // With the tracing plugin: each attempt is a span, and the application gets its traceparent.
    const tracer: AttemptTracer = (name, attributes) => api.runtime.optionalService('tracing')?.outgoing(name, attributes);
    let outbox: OutboxDelivery | undefined;

    // On a cluster (the cluster plugin's nats engine) the queue is the cluster's event log (see cluster-delivery.ts).
    let cluster: ClusterDelivery | undefined;
    let clusterPoster: ReturnType<typeof callbackPoster> | undefined;
    const clusterDelivered = new DeliveredCounts();
    function clusterEventLog(): EventLog | undefined {
      const state = api.runtime.optionalService('cluster.state');
      if (!state) return undefined;
      try {
        return state.eventLog;
      } catch {
        throw new CoordinatorError('ERR_CONFIG', 'the cluster plugin must be registered before event-callbacks (list it first in plugins)');
      }
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
      return outbox?.emit(pending);
    }

    api.hooks.onEvent.tapPromise(PLUGIN_NAME, async (event) => onEvent(event));

    api.provide(EVENT_CALLBACKS_SERVICE, {
      stats: () => {
        if (cluster) {
          const shared = cluster.stats();
          return { depth: shared.depth, oldestAgeMs: 0, deadLetters: shared.deadLetters, delivered: cluster.delivered, retries: cluster.retries, inFlight: cluster.posting, unstored: cluster.unstoredCount, storeFailures: cluster.storeFailures, lost: cluster.lost };
        }
        return outbox?.stats() ?? { depth: 0, oldestAgeMs: 0, deadLetters: 0, delivered: 0, retries: 0, inFlight: 0, unstored: 0, storeFailures: 0, lost: 0 };
      },
      async streamState(channel, streamId) {
        if (cluster) return { pending: 0, attempts: 0, nextAttemptAt: null, lastError: null, deadLetters: 0, ...clusterDelivered.of(streamKeyOf(channel, streamId)) };
        return outbox ? outbox.streamState(channel, streamId) : null;
      },
      async retryDeadLetters(limit = 10_000) {
        if (cluster) {
          const moved = await cluster.reviveDeadLetters(limit);
          if (moved > 0) log.info({ callbacks: moved }, 'dead-lettered callbacks queued again');
          return moved;
        }
        if (!outbox) throw outboxNotOpen();
        return outbox.retryDeadLetters(limit);
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
        if (!outbox) resolve(false);
        else void outbox.idle(timeoutMs).then(resolve, () => resolve(false));
      }),
    });

    api.readiness(() => (cluster ? cluster.unstoredCount === 0 : outbox !== undefined && outbox.ready()));
    api.onStart(async () => {
      if (!options.url) log.warn('EVENT_CALLBACK_URL is not set: stream events are not sent to any application');
      const eventLog = clusterEventLog();
      if (eventLog) {
        clusterPoster = callbackPoster(options, tracer);
        cluster = new ClusterDelivery(eventLog, options, { post: clusterPoster.post, delivered: (event) => clusterDelivered.note(streamKeyOf(event.channel, event.streamId)) }, log);
        cluster.start();
        log.info({ queue: 'cluster event log', signed: options.signingSecrets.length > 0 }, 'callbacks go through the cluster\'s event log');
        return;
      }
      const debug = log.isLevelEnabled('debug');
      // Spans are made on the event loop: with the tracing plugin, so are the POSTs.
      const onThread = options.deliveryThread && !api.runtime.optionalService('tracing');
      const delivery = onThread
        ? threadDelivery({ options, file, log, debug })
        : outboxDelivery({ options, file, log, debug, poster: callbackPoster(options, tracer) });
      await delivery.start();
      outbox = delivery;
    });
    api.onStop(async () => {
      if (cluster) {
        await cluster.stop();
        cluster = undefined;
        await clusterPoster?.close();
      } else {
        // Kept after its stop: stats() reports its last counts until the next start.
        await outbox?.stop();
      }
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'event-callbacks': EventCallbacksService;
  }
}
