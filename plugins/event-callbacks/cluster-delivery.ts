// Callbacks on a cluster of coordinators (the cluster plugin's nats engine):
// the queue is the cluster's event log in JetStream instead of this node's
// SQLite outbox. Every node appends the events it emits (in order per stream:
// one append per stream at a time on a node); the node that is the cluster's
// deliverer posts them, each stream in order, retried with backoff until the
// application answers 200 or the event is dead-lettered. Appends the log
// refuses (NATS out of reach) wait in memory, in order, and are retried; past
// maxUnstoredEvents they are counted as lost and logged.

import type { Logger } from '../../core/logger.js';
import type { EventLog, LoggedEvent, LoggedEventType } from '../cluster/index.js';
import { permanent as isPermanent, retryDelay } from './retry.js';
import { streamKeyOf } from './outbox.js';

export interface ClusterDeliveryOptions {
  url: string;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  deadLetterAfterMs: number;
  concurrency: number;
  maxUnstoredEvents: number;
}

export interface ClusterDeliveryHooks {
  post(event: LoggedEvent): Promise<void>;
  delivered(event: LoggedEvent): void;
}

interface Pending {
  type: LoggedEventType;
  channel: string;
  streamId: string;
  headers: Record<string, string>;
  resolve(): void;
}

export class ClusterDelivery {
  delivered = 0;
  retries = 0;
  lost = 0;
  storeFailures = 0;
  posting = 0;
  private readonly unstored: Pending[] = [];
  private appending = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private running = true;
  /** The last append of each stream this node is writing (appends of one stream go one after another). */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly eventLog: EventLog,
    private readonly options: ClusterDeliveryOptions,
    private readonly hooks: ClusterDeliveryHooks,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.eventLog.consume((event, current) => this.deliver(event, current), { concurrency: this.options.concurrency });
  }

  get unstoredCount(): number {
    return this.unstored.length;
  }

  /** Append one event; resolves once it is stored in the cluster's log (or waits in memory while NATS refuses it). */
  append(type: LoggedEventType, channel: string, streamId: string, headers: Record<string, string>): Promise<void> {
    return new Promise<void>((resolve) => {
      const pending: Pending = { type, channel, streamId, headers, resolve };
      // Order is kept: once one event waits in memory, later ones wait behind it.
      if (this.unstored.length > 0) return this.keep(pending);
      const key = streamKeyOf(channel, streamId);
      const previous = this.tails.get(key) ?? Promise.resolve();
      this.appending += 1;
      const done = previous.then(() => this.store(pending)).finally(() => {
        this.appending -= 1;
        if (this.tails.get(key) === done) this.tails.delete(key);
      });
      this.tails.set(key, done);
    });
  }

  /** The highest log position this node appended. */
  private appendedThrough = 0;

  private noteAppended(event: LoggedEvent | undefined): void {
    if (event?.position !== undefined && event.position > this.appendedThrough) this.appendedThrough = event.position;
  }

  private async store(pending: Pending): Promise<void> {
    try {
      this.noteAppended(await this.eventLog.append(pending.type, pending.channel, pending.streamId, pending.headers));
      pending.resolve();
      this.writesAgain();
    } catch (err) {
      this.writeFailed(err);
      this.keep(pending);
    }
  }

  /** A write refused: the backoff grows (the first refusal is logged as an error, the others at debug). */
  private writeFailed(err: unknown): void {
    this.storeFailures += 1;
    if (this.backoffMs === 0) this.log.error({ err: (err as Error).message }, 'cluster event log cannot write; events wait in memory and are retried (readiness: not ready)');
    else this.log.debug({ err: (err as Error).message }, 'cluster event log still refuses writes');
    this.backoffMs = Math.min(5_000, Math.max(100, this.backoffMs * 2));
  }

  private writesAgain(): void {
    if (this.backoffMs === 0 || this.unstored.length > 0) return;
    this.backoffMs = 0;
    this.log.info({ storeFailures: this.storeFailures }, 'cluster event log writes again');
  }

  private keep(pending: Pending): void {
    if (this.unstored.length >= this.options.maxUnstoredEvents) {
      this.lost += 1;
      this.log.error({ type: pending.type, channel: pending.channel, streamId: pending.streamId, maxUnstoredEvents: this.options.maxUnstoredEvents }, 'event LOST: the cluster event log cannot write and the in-memory queue is full');
      pending.resolve();
      return;
    }
    this.unstored.push(pending);
    if (!this.retryTimer) {
      this.retryTimer = setTimeout(() => void this.flushUnstored(), this.backoffMs || 100);
      this.retryTimer.unref();
    }
  }

  private async flushUnstored(): Promise<void> {
    this.retryTimer = undefined;
    while (this.unstored.length > 0 && this.running) {
      const pending = this.unstored[0]!;
      try {
        this.noteAppended(await this.eventLog.append(pending.type, pending.channel, pending.streamId, pending.headers));
      } catch (err) {
        this.writeFailed(err);
        this.retryTimer = setTimeout(() => void this.flushUnstored(), this.backoffMs);
        this.retryTimer.unref();
        return;
      }
      this.unstored.shift();
      pending.resolve();
    }
    this.writesAgain();
  }

  /** Post one event until the application takes it (200), it is dead-lettered, or this node stops delivering. */
  private async deliver(event: LoggedEvent, current: () => boolean): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      if (!current() || !this.running) throw new Error('no longer the cluster deliverer');
      let error: string;
      let permanent = false;
      this.posting += 1;
      try {
        if (this.options.url) await this.hooks.post(event);
        this.delivered += 1;
        this.hooks.delivered(event);
        this.log.debug({ deliveryId: event.deliveryId, type: event.type, channel: event.channel, seq: event.seq }, 'callback delivered');
        return;
      } catch (err) {
        error = (err as Error).message;
        permanent = isPermanent(err);
      } finally {
        this.posting -= 1;
      }
      if (permanent || Date.now() - event.createdAt >= this.options.deadLetterAfterMs) {
        await this.eventLog.deadLetter(event, error);
        this.log.error({ deliveryId: event.deliveryId, type: event.type, channel: event.channel, attempts: attempt + 1, error, permanent }, 'callback moved to dead letters');
        return;
      }
      const delay = retryDelay(attempt, this.options.retryDelayMs, this.options.maxRetryDelayMs);
      this.retries += 1;
      this.log.warn({ deliveryId: event.deliveryId, type: event.type, channel: event.channel, attempt: attempt + 1, retryInMs: Math.round(delay), error }, 'callback not accepted; will retry');
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  stats(): { depth: number; deadLetters: number } {
    return this.eventLog.stats();
  }

  reviveDeadLetters(limit: number): Promise<number> {
    return this.eventLog.reviveDeadLetters(limit);
  }

  /** Nothing waits in memory or is being appended here, and everything this node appended has been delivered (by whichever node delivers). */
  async idle(): Promise<boolean> {
    if (this.unstored.length > 0 || this.appending > 0) return false;
    return (await this.eventLog.deliveredThrough().catch(() => 0)) >= this.appendedThrough;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const wake of [...this.sleepers]) wake();
    await Promise.allSettled([...this.tails.values()]);
    if (this.unstored.length > 0) this.log.error({ events: this.unstored.length }, 'stopping with events the cluster event log could not store: they are LOST');
    for (const pending of this.unstored.splice(0)) pending.resolve();
    await this.eventLog.stop();
  }
}
