// Requests in flight, by id, each with its timeout. The first response for an
// id wins; a late one finds nothing. Duplicate ids are refused without
// disturbing the original (the Go tracker removed the original: W12).

import { CoordinatorError } from './errors.js';
import type { Request } from './model.js';
import type { InternalRequestContext } from './context.js';

export interface TrackedRequest {
  readonly request: Request;
  readonly context: InternalRequestContext;
  readonly trackedAt: number;
  timer: NodeJS.Timeout | null;
  /** A provider acknowledged the request (its response may now arrive). */
  accepted: boolean;
  /** Ends the send in progress (set by the runtime while a provider is being tried). */
  cancel?: ((err: Error) => void) | undefined;
}

export type TimeoutHandler = (entry: TrackedRequest) => void;

export class Tracker {
  private readonly entries = new Map<string, TrackedRequest>();
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

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): TrackedRequest | undefined {
    return this.entries.get(id);
  }

  track(request: Request, context: InternalRequestContext, timeoutMs: number): TrackedRequest {
    if (!this.accepting) throw new CoordinatorError('ERR_SHUTTING_DOWN', undefined, { requestId: request.id });
    if (this.entries.has(request.id)) throw new CoordinatorError('ERR_DUPLICATE_ID', undefined, { requestId: request.id });
    const entry: TrackedRequest = { request, context, trackedAt: Date.now(), timer: null, accepted: false };
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      entry.timer = setTimeout(() => {
        if (this.entries.get(request.id) === entry) this.onTimeout(entry);
      }, timeoutMs);
    }
    this.entries.set(request.id, entry);
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

  private release(entry: TrackedRequest): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    this.entries.delete(entry.request.id);
    if (this.entries.size === 0 && this.emptyWaiters.length > 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const wake of waiters) wake();
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
    return [...this.entries.values()];
  }
}
