// The outbox's delivery loop (delivery.ts) on a thread of its own: SQLite's
// writes, the callback POSTs and their retries run beside the event loop
// instead of on it. The event loop sends the events of each of its turns in
// one message and resolves their emit() when the thread says they are on
// disk; it reads stats() from memory the thread keeps up to date, without
// asking.
//
// Why: a callback costs the event loop about half as much this way (~25–33
// against ~53–70 µs in bench/outbox.bench.ts, the emits and the benchmark's
// application included), a slow disk no longer stalls the event loop
// (SQLite's calls are synchronous), and on a busy machine the callbacks keep
// up better with direct POSTs (see docs/ARCHITECTURE.md).
//
// One thread per process, shared by every coordinator in it. It starts with
// an outbox's first event (or at start, when the file has work left): an
// idle coordinator carries no thread (~10 MiB). It stays a while after the
// last outbox stops (a coordinator stopped and started again finds it
// warm), without holding the process open. If the thread dies, each outbox
// opens again on a new one, resumed (the streams it had announced stay
// announced), and the events not yet confirmed stored are sent again:
// nothing an emit() was told is stored is lost. While no thread can open the
// file (locked, full), events wait here in memory, as the event loop's outbox
// keeps them, up to maxUnstoredEvents.

import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CoordinatorError } from '../../core/errors.js';
import { outboxFileHasWork, outboxNotOpen } from './outbox.js';
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
  /** Registered on the thread (its open sent, not refused). */
  open = false;
  /** Between start() and stop(). */
  private started = false;
  /** Opened on a thread since start: a later open (the thread died) resumes, closing no stream. */
  openedOnce = false;
  /** Set while a refused open waits to be tried again (see ensureOpen()): not ready meanwhile. */
  private retryTimer: NodeJS.Timeout | undefined;
  private openWaitMs = 0;
  private group: PendingEvent[] = [];
  private groupStored: Promise<void> | undefined;
  private nextBatch = 1;
  /** Events dropped here because no thread could take them (see emit()). */
  private lost = 0;
  /** Opens the database refused (each a failed write, as the thread counts its own). */
  private refusedOpens = 0;
  private nextCall = 1;
  private lastRefresh = 0;

  constructor(readonly id: number, readonly settings: ThreadSettings, private readonly thread: DeliveryThread) {}

  /**
   * The thread takes the outbox with its first event, unless the file has
   * something to act on at once (callbacks waiting, dead letters, announced
   * streams to close, a legacy file to import) or the thread runs already:
   * then now, as on the event loop. An idle coordinator has no thread of its
   * own making (~10 MiB).
   */
  async start(): Promise<void> {
    const { options, file } = this.settings;
    // The file is opened here once, as the event loop's outbox would open it: what cannot hold it fails the start.
    const work = outboxFileHasWork(file, { maxBytes: options.maxDatabaseBytes }) || (options.importActiveStreamsFile !== '' && existsSync(options.importActiveStreamsFile));
    this.started = true;
    // A thread already running (another coordinator's, or one still there after a stop) costs nothing more: take it now.
    if (work || this.thread.running) await this.thread.open(this, false);
  }

  /** After the thread died: open again on a new one, after `waitMs`. */
  reopenAfter(waitMs: number): void {
    this.open = false;
    if (waitMs === 0) this.ensureOpen();
    else this.openIn(waitMs);
  }

  /** Try the open again after `waitMs` (not ready meanwhile). */
  private openIn(waitMs: number): void {
    this.openWaitMs = waitMs;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.started) this.ensureOpen();
    }, waitMs);
    this.retryTimer.unref();
  }

  /** Open on the thread now if not yet (the first event); a refusal is logged and tried again after a growing wait, events waiting meanwhile. */
  private ensureOpen(): void {
    if (this.open || this.retryTimer) return;
    this.thread.open(this, this.openedOnce).then(() => { this.openWaitMs = 0; }, (err: Error) => {
      this.refusedOpens += 1;
      const wait = longerWait(this.openWaitMs);
      this.settings.log.error({ err: err.message, code: (err as { code?: string }).code, retryInMs: wait }, 'event outbox cannot open; events wait in memory and it is tried again (readiness: not ready)');
      // As on the event loop, an event the disk refuses waits in memory and its emit() goes on (readiness says not ready).
      for (const batch of this.unconfirmed.values()) batch.stored();
      this.openIn(wait);
    });
  }

  emit(event: PendingEvent): Promise<void> {
    if (!this.started) return Promise.resolve();
    this.ensureOpen();
    // No thread can take them (its open refused, or it died): they wait here, as many as the thread would keep in memory.
    if (!this.taken && this.waiting() >= this.settings.options.maxUnstoredEvents) {
      this.lost += 1;
      this.settings.log.error({ type: event.type, channel: event.data.channel, streamId: event.data.streamId, maxUnstoredEvents: this.settings.options.maxUnstoredEvents }, 'event LOST: the outbox cannot open and the in-memory queue is full');
      return Promise.resolve();
    }
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
        // No thread can take them now: they wait in memory (sent again with the next open), and the emits go on.
        if (this.retryTimer) resolve();
      });
    }));
  }

  /** The thread has the outbox open (not only asked to). */
  private get taken(): boolean {
    return this.open && this.opening === undefined;
  }

  /** Events sent or about to be, not yet confirmed stored. */
  private waiting(): number {
    let n = this.group.length;
    for (const batch of this.unconfirmed.values()) n += batch.events.length;
    return n;
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
    stats.lost += this.lost;
    stats.storeFailures += this.refusedOpens;
    // Events no thread has taken yet (its open refused, or it died) wait in memory too.
    if (!this.taken) stats.unstored += this.waiting();
    return stats;
  }

  /** Null while the coordinator is stopped (or the thread is starting again), as on the event loop. */
  streamState(channel: string, streamId: string): Promise<StreamDeliveryState | null> {
    if (this.started && !this.open) return Promise.resolve({ pending: 0, attempts: 0, nextAttemptAt: null, lastError: null, deadLetters: 0, delivered: 0, lastDeliveredAt: null });
    return (this.call('streamState', [channel, streamId]) as Promise<StreamDeliveryState | null>).catch(() => null);
  }

  retryDeadLetters(limit: number): Promise<number> {
    // Not open yet: the file had no dead letters at start, and only the thread adds any.
    if (this.started && !this.open) return Promise.resolve(0);
    return this.call('retryDeadLetters', [limit]) as Promise<number>;
  }

  async idle(timeoutMs: number): Promise<boolean> {
    // The events emitted before this call reach the thread first (messages keep their order).
    if (this.groupStored) await this.groupStored;
    if (this.started && !this.open && !this.retryTimer && this.unconfirmed.size === 0) return true;
    return this.call('idle', [timeoutMs]) as Promise<boolean>;
  }

  ready(): boolean {
    this.refresh();
    // A refused open (or a dead thread) waiting to be tried again, or being tried: not ready until one succeeds.
    if (!this.started || this.retryTimer || this.openWaitMs > 0) return false;
    // Not open yet, or its open not answered yet: nothing is known to be wrong.
    return !this.open || this.opening !== undefined || this.figures[STAT_READY] === 1;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = undefined; }
    if (!this.open) {
      this.lose('stopping with events the outbox could not store: they are LOST');
      return;
    }
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
    if (!this.open) return Promise.reject(outboxNotOpen());
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
        else {
          this.openedOnce = true;
          this.opening?.resolve();
        }
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

/** The next wait before trying again after a failure: doubling from 100 ms up to 30 s. */
function longerWait(previousMs: number): number {
  return Math.min(30_000, Math.max(100, previousMs * 2));
}

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
    // An open outbox holds the process open, as its sockets would on the event loop.
    this.started().ref();
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
    if (this.worker) return this.worker;
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
    this.restartWaitMs = Date.now() - this.startedAt < SHORT_LIFE_MS ? longerWait(this.restartWaitMs) : 0;
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
      this.outboxes.delete(outbox.id);
      outbox.reopenAfter(this.restartWaitMs);
    }
  }

  get running(): boolean {
    return this.worker !== undefined;
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

/** Whether the process's delivery thread is running now (tests, and whoever wonders where ~10 MiB went). */
export function deliveryThreadRunning(): boolean {
  return shared?.running ?? false;
}

/** For tests: end the delivery thread at once, as a crash would; each open outbox opens again on a new one. */
export function killDeliveryThread(): Promise<void> {
  return shared?.kill() ?? Promise.resolve();
}

/** The outbox's delivery on the process's delivery thread (see the top of this file). */
export function threadDelivery(settings: ThreadSettings): OutboxDelivery {
  return (shared ??= new DeliveryThread()).create(settings);
}
