// The SQLite outbox's delivery loop: events stored with group commit, posted
// each stream in order (concurrency streams at a time), retried with backoff,
// dead-lettered when too old, delivered rows deleted in batches. Runs on the
// event loop, or on the delivery thread (delivery-worker.ts) that keeps it
// off the event loop: the same code either way.

import { existsSync, readFileSync } from 'node:fs';
import { InFlight } from '../../core/in-flight.js';
import { STREAM_AVAILABLE } from '../shared/stream-events.js';
import { availableHeaders, closedHeaders } from './callback-headers.js';
import { DeliveredCounts } from './delivered-counts.js';
import { Outbox, outboxNotOpen, streamKeyOf, type OutboxRow } from './outbox.js';
import type { CallbackPoster } from './post.js';
import { permanent, retryDelay } from './retry.js';
import type { EventCallbacksOptions, EventCallbacksStats, PendingEvent, StreamDeliveryState } from './types.js';

/** What the loop logs (a pino logger on the event loop; messages to it from the thread). */
export interface DeliveryLog {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface OutboxDeliverySettings {
  options: EventCallbacksOptions;
  /** The SQLite file of the outbox. */
  file: string;
  log: DeliveryLog;
  /** Per-delivery debug lines are built only when they are written. */
  debug: boolean;
  poster: CallbackPoster;
  /** Told when readiness or a rare figure changes (a write refused or working again, a retry, a dead letter). */
  changed?: () => void;
}

/** The outbox's delivery as the plugin drives it, here or on the delivery thread (delivery-thread.ts). */
export interface OutboxDelivery {
  /**
   * Open the outbox (throws what the database said) and start delivering.
   * At boot (not `resumed`) the streams left live at the last stop are
   * closed first; a delivery resumed after its thread died keeps them.
   */
  start(resumed?: boolean): void | Promise<void>;
  /** Resolves once the event is on disk, or waits in memory while the disk refuses it. */
  emit(event: PendingEvent): Promise<void>;
  stats(): EventCallbacksStats;
  streamState(channel: string, streamId: string): StreamDeliveryState | null | Promise<StreamDeliveryState | null>;
  retryDeadLetters(limit: number): number | Promise<number>;
  idle(timeoutMs: number): Promise<boolean>;
  ready(): boolean;
  /** Store what is pending, let the POSTs under way end, write their deletes, close the outbox and the connections. */
  stop(): Promise<void>;
}

export function outboxDelivery({ options, file, log, debug, poster, changed = () => undefined }: OutboxDeliverySettings): OutboxDelivery {
  /** POSTs under way (a count: see core/in-flight.ts). */
  const attempts = new InFlight();
  const deliveredPerStream = new DeliveredCounts();
  let outbox: Outbox | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let delivered = 0;
  let retries = 0;
  let idleWaiters: Array<() => void> = [];

  function notifyIdle(): void {
    // Events emitted and not yet written (this turn's group) are not delivered yet either.
    if (idleWaiters.length === 0 || !outbox || posting > 0 || outbox.deliveredPending > 0 || unstored.length > 0 || group.length > 0) return;
    if (!outbox.empty) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
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
    changed();
    const first = storeBackoffMs === 0;
    storeBackoffMs = Math.min(5_000, Math.max(50, storeBackoffMs * 2));
    if (first) log.error({ err: (err as Error).message, code: (err as { code?: string }).code, what }, 'event outbox cannot write; events wait in memory and are retried (readiness: not ready)');
  }

  function storeRecovered(): void {
    if (storeBackoffMs === 0) return;
    storeBackoffMs = 0;
    changed();
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
    changed();
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
    if (stored) {
      changed();
      schedulePump();
    }
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
      if (options.url) await poster.post(row);
      delivered += 1;
      deliveredPerStream.note(row.streamKey);
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
        changed();
        log.error({ deliveryId: row.deliveryId, type: row.type, channel: row.channel, attempts: row.attempts + 1, error, permanent: deadNow }, 'callback moved to dead letters');
        return;
      }
      const delay = retryDelay(row.attempts, options.retryDelayMs, options.maxRetryDelayMs);
      outbox.retryLater(row, now + delay, error);
      retries += 1;
      changed();
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
    // The freed slot takes the next due row now (its connection is free now), not a loop turn later, even
    // when a pump is already scheduled (one is after every group of events): waiting for it left the slots
    // of every answer read in the meantime empty until the next turn.
    pump();
    // Only then is "nothing being posted" true: the delivered rows are deleted at once only when no row took
    // a slot. Decided before the refill, each group of events was followed by a commit of its own for deletes
    // the next group's commit would have carried.
    scheduleDeliveredFlush();
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
      into.appending(() => {
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

  // Close guards older than deadLetterAfterMs go, with their streams'
  // sequence numbers (see Outbox.pruneGuards): a batch at start, then one
  // every PRUNE_EVERY_MS, or every second while there are more.
  const PRUNE_BATCH = 1_000;
  const PRUNE_EVERY_MS = 10 * 60_000;
  let pruneTimer: NodeJS.Timeout | undefined;

  function prune(): void {
    pruneTimer = undefined;
    if (!outbox || !running) return;
    let more = false;
    try {
      more = outbox.pruneGuards(Date.now() - options.deadLetterAfterMs, PRUNE_BATCH) === PRUNE_BATCH;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'pruning old close guards failed; trying again later');
    }
    pruneTimer = setTimeout(prune, more ? 1_000 : PRUNE_EVERY_MS);
    pruneTimer.unref();
  }

  function importLegacy(into: Outbox): void {
    const legacy = options.importActiveStreamsFile;
    if (!legacy || into.meta('imported:active_streams') || !existsSync(legacy)) return;
    let count = 0;
    for (const line of readFileSync(legacy, 'utf8').split('\n')) {
      const parts = line.split(':');
      if (parts.length !== 2 || !parts[0] || !parts[1]) continue;
      into.announce(parts[0], parts[1]);
      count += 1;
    }
    into.setMeta('imported:active_streams', new Date().toISOString());
    log.info({ file: legacy, streams: count }, 'imported the original coordinator active streams');
  }

  return {
    start(resumed = false) {
      outbox = new Outbox(file, { maxBytes: options.maxDatabaseBytes });
      const leftovers: Array<{ channel: string; streamId: string }> = [];
      if (!resumed) {
        importLegacy(outbox);
        // Every stream that was live when we stopped is over: the application must hear it (as the original at boot).
        for (const s of outbox.announcedWithoutClose()) {
          leftovers.push(s);
          outbox.clearGuard(s.streamId);
          outbox.startClose(s.channel, s.streamId, closedHeaders(s));
        }
      }
      const stats = outbox.stats();
      log.info({ file, pending: stats.depth, closedAtBoot: leftovers.length, deadLetters: stats.deadLetters, signed: options.signingSecrets.length > 0 }, 'event outbox open');
      running = true;
      prune();
      pump();
    },

    emit(event) {
      if (!outbox) return Promise.resolve();
      group.push(event);
      groupWritten ??= new Promise<void>((resolve) => {
        setImmediate(() => {
          writeGroup();
          resolve();
        });
      });
      return groupWritten;
    },

    stats() {
      let stored = { depth: 0, oldestAgeMs: 0, deadLetters: 0 };
      try {
        if (outbox) stored = outbox.stats();
      } catch {
        // a locked or failing database: report what is known in memory
      }
      return { ...stored, delivered, retries, inFlight: posting, unstored: unstored.length, storeFailures, lost };
    },

    streamState(channel, streamId) {
      if (!outbox) return null;
      try {
        return { ...outbox.streamState(channel, streamId), ...deliveredPerStream.of(streamKeyOf(channel, streamId)) };
      } catch {
        return null;
      }
    },

    retryDeadLetters(limit) {
      if (!outbox) throw outboxNotOpen();
      const moved = outbox.reviveDeadLetters(limit);
      if (moved > 0) {
        log.info({ callbacks: moved }, 'dead-lettered callbacks queued again');
        schedulePump();
      }
      return moved;
    },

    idle: (timeoutMs) => new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      idleWaiters.push(() => { clearTimeout(t); resolve(true); });
      notifyIdle();
    }),

    ready: () => outbox !== undefined && unstored.length === 0,

    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      if (pruneTimer) clearTimeout(pruneTimer);
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
      await poster.close();
    },
  };
}
