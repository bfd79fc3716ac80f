// The event-callbacks plugin's public types: its options, its service, and
// what the service reports. Shared by the plugin (index.ts), its delivery
// loop (delivery.ts) and the delivery thread (delivery-thread.ts).

import type { WebhookOptions } from '../shared/webhook-auth.js';
import type { STREAM_AVAILABLE, STREAM_CLOSED, StreamAvailableEvent, StreamClosedEvent } from '../shared/stream-events.js';

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
  /** Keep the outbox and send its callbacks on a thread of their own (one per process, started with the first event), beside the event loop rather than on it: see delivery-thread.ts. Default true. */
  deliveryThread: boolean;
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
  streamState(channel: string, streamId: string): Promise<StreamDeliveryState | null>;
  /** Move dead-lettered callbacks (oldest first, at most `limit`) back into the outbox to be sent again; resolves to how many. */
  retryDeadLetters(limit?: number): Promise<number>;
  /** Resolves when the outbox is empty (or after timeoutMs); for tests and drain. */
  idle(timeoutMs: number): Promise<boolean>;
}

/** An event the outbox is asked to keep. */
export type PendingEvent = { type: typeof STREAM_AVAILABLE; data: StreamAvailableEvent } | { type: typeof STREAM_CLOSED; data: StreamClosedEvent };
