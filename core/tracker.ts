// Requests in flight, by id, each with its timeout. The first response for an
// id wins; a late one finds nothing. Duplicate ids are refused without
// disturbing the original (the Go tracker removed the original: W12).
//
// Timeouts live in an indexed min-heap with one timer armed for the earliest
// deadline: a request costs a heap insert and remove (O(log n), no
// allocation) instead of a setTimeout and a clearTimeout.

import { CoordinatorError } from './errors.js';
import type { Request } from './model.js';
import type { InternalRequestContext } from './context.js';
import { IdTable } from './id-table.js';
import { IndexedHeap } from './indexed-heap.js';

export interface TrackedRequest {
  readonly request: Request;
  readonly context: InternalRequestContext;
  readonly trackedAt: number;
  /** When the request times out (ms epoch); Infinity for none. */
  deadline: number;
  /** Position in the deadline heap; -1 when not in it. */
  heapIndex: number;
  /** A provider acknowledged the request (its response may now arrive). */
  accepted: boolean;
  /** Ends the send in progress (set by the runtime while a provider is being tried). */
  cancel?: ((err: Error) => void) | undefined;
}

export type TimeoutHandler = (entry: TrackedRequest) => void;

export class Tracker {
  /** By id (an IdTable, not a Map: see id-table.ts for what a churning Map keeps alive). */
  private readonly entries = new IdTable<TrackedRequest>();
  private readonly deadlines = new IndexedHeap<TrackedRequest>((a, b) => a.deadline < b.deadline);
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private accepting = false;
  private emptyWaiters: Array<() => void> = [];

  constructor(private readonly onTimeout: TimeoutHandler) {}

  get size(): number {
    return this.entries.size;
  }

  open(): void {
    this.accepting = true;
  }

  /** Stop taking new requests; responses for tracked ones are still matched. */
  close(): void {
    this.accepting = false;
  }

  /** Drop the timer (at stop, once nothing is tracked). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): TrackedRequest | undefined {
    return this.entries.get(id);
  }

  track(request: Request, context: InternalRequestContext, timeoutMs: number): TrackedRequest {
    if (!this.accepting) throw new CoordinatorError('ERR_SHUTTING_DOWN', undefined, { requestId: request.id });
    if (this.entries.has(request.id)) throw new CoordinatorError('ERR_DUPLICATE_ID', undefined, { requestId: request.id });
    const now = Date.now();
    const deadline = timeoutMs > 0 && Number.isFinite(timeoutMs) ? now + timeoutMs : Number.POSITIVE_INFINITY;
    const entry: TrackedRequest = { request, context, trackedAt: now, deadline, heapIndex: -1, accepted: false };
    this.entries.set(request.id, entry);
    if (deadline !== Number.POSITIVE_INFINITY) {
      this.deadlines.push(entry);
      if (deadline < this.timerAt) this.arm(deadline);
      else if (this.entries.size === 1) this.timer?.ref();
    }
    return entry;
  }

  /** Remove and return the entry for a response's id (first arrival wins). */
  take(id: string): TrackedRequest | undefined {
    const entry = this.entries.get(id);
    if (entry) this.release(entry);
    return entry;
  }

  /** Remove exactly this entry (never another request that reuses its id). */
  remove(entry: TrackedRequest): boolean {
    if (this.entries.get(entry.request.id) !== entry) return false;
    this.release(entry);
    return true;
  }

  /** One timer, for the earliest deadline. */
  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - Date.now()));
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (let next = this.deadlines.peek(); next; next = this.deadlines.peek()) {
      if (next.deadline > now) {
        this.arm(next.deadline);
        return;
      }
      this.deadlines.remove(next);
      if (this.entries.get(next.request.id) === next) this.onTimeout(next);
    }
  }

  private release(entry: TrackedRequest): void {
    this.entries.delete(entry.request.id);
    this.deadlines.remove(entry);
    if (this.entries.size === 0) {
      // The timer stays armed (re-arming per request costs more than a timer
      // that fires once and finds nothing), but no longer keeps the process alive.
      this.timer?.unref();
      if (this.emptyWaiters.length > 0) {
        const waiters = this.emptyWaiters;
        this.emptyWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  }

  /** Wait until every entry is answered or the deadline passes; return what is left (still tracked). */
  async waitEmpty(deadlineMs: number): Promise<TrackedRequest[]> {
    if (this.entries.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, deadlineMs));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.emptyWaiters.push(done);
      });
    }
    return this.entries.values();
  }
}
