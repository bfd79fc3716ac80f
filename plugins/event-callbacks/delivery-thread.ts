// The outbox's delivery loop (delivery.ts) on a thread of its own: SQLite's
// writes, the callback POSTs and their retries run beside the event loop
// instead of on it. The event loop sends the events of each of its turns in
// one message and resolves their emit() when the thread says they are on
// disk; it reads stats() from memory the thread keeps up to date, without
// asking.
//
// Why: a callback costs the event loop ~60 µs on the event loop (~20 of them
// the HTTP client, ~6 SQLite, the rest the loop's own work and its garbage);
// on the thread it costs the event loop one share of a message per turn. On
// this machine's two cores that took the durable callbacks from ~0.65 to
// above 0.8 of the direct POSTs (bench/outbox.bench.ts), and a slow disk no
// longer stalls the event loop (SQLite's calls are synchronous).
//
// One thread per process, shared by every coordinator in it, started with the
// first outbox and kept for a while after the last one stops (a coordinator
// stopped and started again finds it warm), without holding the process open.
// If the thread dies, each outbox opens again on a new one, resumed (the
// streams it had announced stay announced), and the events not yet confirmed
// stored are sent again: nothing an emit() was told is stored is lost, and
// nothing it was not told is dropped.

import { Worker } from 'node:worker_threads';
import { CoordinatorError } from '../../core/errors.js';
import type { OutboxDelivery, OutboxDeliverySettings } from './delivery.js';
import { STAT_FIELDS, STAT_READY, STAT_SLOTS, type ErrorShape, type FromDeliveryThread, type ThreadCall, type ToDeliveryThread } from './delivery-messages.js';
import type { EventCallbacksStats, PendingEvent, StreamDeliveryState } from './types.js';

/** How long the thread stays after its last outbox stopped, ms. */
const LINGER_MS = 30_000;
/** stats() asks the thread for fresh figures at most this often, ms (it always answers from memory at once). */
const REFRESH_MS = 20;

// From the TypeScript sources (tsx), the thread registers tsx itself first: Node 20 does not pass a loader on to workers.
const ENTRY = import.meta.url.endsWith('.ts') ? new URL('./delivery-worker-tsx.mjs', import.meta.url) : new URL('./delivery-worker.js', import.meta.url);

/** What an error from the thread was: a CoordinatorError stays one, a code stays on it. */
function rebuilt(shape: ErrorShape): Error {
  if (shape.name === 'CoordinatorError' && shape.code) return new CoordinatorError(shape.code as never, shape.message);
  const err = new Error(shape.message);
  if (shape.name !== 'Error') err.name = shape.name;
  if (shape.code !== undefined) (err as Error & { code?: string }).code = shape.code;
  return err;
}

type ThreadSettings = Omit<OutboxDeliverySettings, 'poster'>;

/** One outbox on the thread, as the event loop sees it. */
class ThreadOutbox implements OutboxDelivery {
  /** The figures of stats(), written by the thread (see delivery-messages.ts for the order). */
  readonly figures = new Float64Array(new SharedArrayBuffer(STAT_SLOTS * Float64Array.BYTES_PER_ELEMENT));
  /** Event batches sent and not yet confirmed stored, by batch number (sent again if the thread dies). */
  readonly unconfirmed = new Map<number, { events: PendingEvent[]; stored: () => void }>();
  readonly calls = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  opening: { resolve(): void; reject(err: Error): void } | undefined;
  open = false;
  private group: PendingEvent[] = [];
  private groupStored: Promise<void> | undefined;
  private nextBatch = 1;
  private nextCall = 1;
  private lastRefresh = 0;

  constructor(readonly id: number, readonly settings: ThreadSettings, private readonly thread: DeliveryThread) {}

  start(): Promise<void> {
    return this.thread.open(this, false);
  }

  emit(event: PendingEvent): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.group.push(event);
    // The events of one turn go in one message at its end.
    return (this.groupStored ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        const events = this.group;
        this.group = [];
        this.groupStored = undefined;
        const batch = this.nextBatch++;
        this.unconfirmed.set(batch, { events, stored: resolve });
        this.thread.send({ kind: 'events', id: this.id, batch, events });
      });
    }));
  }

  /** Ask the thread for fresh figures (at most every REFRESH_MS); what is read now is what it last wrote. */
  private refresh(): void {
    const now = Date.now();
    if (!this.open || now - this.lastRefresh < REFRESH_MS) return;
    this.lastRefresh = now;
    this.call('stats', []).catch(() => undefined);
  }

  stats(): EventCallbacksStats {
    this.refresh();
    const stats = {} as EventCallbacksStats;
    STAT_FIELDS.forEach((field, i) => { stats[field] = this.figures[i]!; });
    return stats;
  }

  /** Null while the outbox is not open (or its thread is starting again), as on the event loop. */
  streamState(channel: string, streamId: string): Promise<StreamDeliveryState | null> {
    return (this.call('streamState', [channel, streamId]) as Promise<StreamDeliveryState | null>).catch(() => null);
  }

  retryDeadLetters(limit: number): Promise<number> {
    return this.call('retryDeadLetters', [limit]) as Promise<number>;
  }

  idle(timeoutMs: number): Promise<boolean> {
    return this.call('idle', [timeoutMs]) as Promise<boolean>;
  }

  ready(): boolean {
    this.refresh();
    return this.open && this.figures[STAT_READY] === 1;
  }

  async stop(): Promise<void> {
    if (!this.open) return;
    // The events of this turn first: messages arrive in order.
    if (this.groupStored) await this.groupStored;
    try {
      await this.call('stop', []);
    } finally {
      this.open = false;
      this.thread.closed(this);
      this.lose('stopping with events the outbox could not store: they are LOST');
    }
  }

  /** Events sent and never confirmed stored (the thread is gone for good): logged, and their emit() resolves. */
  lose(message: string): void {
    if (this.unconfirmed.size === 0) return;
    const waiting = [...this.unconfirmed.values()];
    this.unconfirmed.clear();
    this.settings.log.error({ events: waiting.reduce((n, b) => n + b.events.length, 0) }, message);
    for (const b of waiting) b.stored();
  }

  call(method: ThreadCall, args: unknown[]): Promise<unknown> {
    if (!this.open) return Promise.reject(new CoordinatorError('ERR_NOT_STARTED', 'the event outbox is not open (the coordinator is not started)'));
    return new Promise((resolve, reject) => {
      const call = this.nextCall++;
      this.calls.set(call, { resolve, reject });
      this.thread.send({ kind: 'call', id: this.id, call, method, args });
    });
  }

  received(message: FromDeliveryThread): void {
    switch (message.kind) {
      case 'opened':
        if (message.error) this.opening?.reject(rebuilt(message.error));
        else this.opening?.resolve();
        this.opening = undefined;
        return;
      case 'stored': {
        const batch = this.unconfirmed.get(message.batch);
        this.unconfirmed.delete(message.batch);
        batch?.stored();
        return;
      }
      case 'result': {
        const call = this.calls.get(message.call);
        this.calls.delete(message.call);
        if (message.error) call?.reject(rebuilt(message.error));
        else call?.resolve(message.value);
        return;
      }
      case 'log':
        this.settings.log[message.level](message.fields, message.message);
        return;
    }
  }
}

/** A thread that dies sooner than this after its start is started again only after a growing wait (a fault that recurs must not spin), ms. */
const SHORT_LIFE_MS = 5_000;
const MAX_RESTART_WAIT_MS = 30_000;

class DeliveryThread {
  private worker: Worker | undefined;
  private readonly outboxes = new Map<number, ThreadOutbox>();
  private lingerTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private startedAt = 0;
  private restartWaitMs = 0;

  create(settings: ThreadSettings): ThreadOutbox {
    return new ThreadOutbox(this.nextId++, settings, this);
  }

  open(outbox: ThreadOutbox, resumed: boolean): Promise<void> {
    if (this.lingerTimer) { clearTimeout(this.lingerTimer); this.lingerTimer = undefined; }
    this.outboxes.set(outbox.id, outbox);
    outbox.open = true;
    const opened = new Promise<void>((resolve, reject) => { outbox.opening = { resolve, reject }; });
    const { options, file, debug } = outbox.settings;
    this.send({ kind: 'open', id: outbox.id, options, file, debug, stats: outbox.figures.buffer as SharedArrayBuffer, resumed });
    // Events not yet confirmed (the thread died before it stored them) go again, in order, after the open.
    for (const [batch, { events }] of outbox.unconfirmed) this.send({ kind: 'events', id: outbox.id, batch, events });
    return opened.catch((err: Error) => {
      outbox.open = false;
      this.closed(outbox);
      throw err;
    });
  }

  closed(outbox: ThreadOutbox): void {
    this.outboxes.delete(outbox.id);
    if (this.outboxes.size === 0 && this.worker) {
      // Nothing to wait for any more: the thread may not hold the process open, and ends if no outbox comes back soon.
      this.worker.unref();
      this.lingerTimer ??= setTimeout(() => this.end(), LINGER_MS);
      this.lingerTimer.unref();
    }
  }

  send(message: ToDeliveryThread): void {
    this.started().postMessage(message);
  }

  private started(): Worker {
    if (this.worker) {
      if (this.outboxes.size > 0) this.worker.ref();
      return this.worker;
    }
    const worker = new Worker(ENTRY, { name: 'coordinator-event-callbacks' });
    this.worker = worker;
    this.startedAt = Date.now();
    worker.on('message', (message: FromDeliveryThread) => this.outboxes.get(message.id)?.received(message));
    worker.on('error', (err) => this.died(worker, err.message));
    worker.on('exit', (code) => this.died(worker, `exit code ${code}`));
    return worker;
  }

  /** The thread is gone: every open outbox opens again on a new one, resumed, and sends its unconfirmed events again. */
  private died(worker: Worker, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.restartWaitMs = Date.now() - this.startedAt < SHORT_LIFE_MS ? Math.min(MAX_RESTART_WAIT_MS, Math.max(100, this.restartWaitMs * 2)) : 0;
    for (const outbox of [...this.outboxes.values()]) {
      const failed = new Error(`the event callbacks thread stopped (${reason})`);
      for (const call of outbox.calls.values()) call.reject(failed);
      outbox.calls.clear();
      if (outbox.opening) {
        outbox.opening.reject(failed);
        outbox.opening = undefined;
        continue;
      }
      outbox.settings.log.error({ reason, restartInMs: this.restartWaitMs }, 'the event callbacks thread stopped; the outbox opens again on a new one (events not yet stored are sent again)');
      this.reopen(outbox);
    }
  }

  /** Open an outbox again on a new thread, after the wait a recurring fault calls for. */
  private reopen(outbox: ThreadOutbox): void {
    if (this.restartWaitMs > 0) {
      setTimeout(() => { if (outbox.open) this.reopenNow(outbox); }, this.restartWaitMs).unref();
      return;
    }
    this.reopenNow(outbox);
  }

  private reopenNow(outbox: ThreadOutbox): void {
    this.open(outbox, true).catch((err: Error) => {
      // Not ready from now on; what was waiting for its confirmation is reported, not silently dropped.
      outbox.lose(`the event outbox could not open again (${err.message}): events not yet stored are LOST, and later ones are not stored until the coordinator restarts (readiness: not ready)`);
    });
  }

  /** End the thread at once, as a crash would (tests: what a dead thread costs). */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  private end(): void {
    this.lingerTimer = undefined;
    if (this.outboxes.size > 0 || !this.worker) return;
    const worker = this.worker;
    this.worker = undefined;
    void worker.terminate();
  }
}

let shared: DeliveryThread | undefined;

/** For tests: end the delivery thread at once, as a crash would; each open outbox opens again on a new one. */
export function killDeliveryThread(): Promise<void> {
  return shared?.kill() ?? Promise.resolve();
}

/** The outbox's delivery on the process's delivery thread (see the top of this file). */
export function threadDelivery(settings: ThreadSettings): OutboxDelivery {
  return (shared ??= new DeliveryThread()).create(settings);
}
