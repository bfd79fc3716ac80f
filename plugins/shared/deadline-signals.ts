// Abort signals that fire after a fixed timeout, for outgoing requests on hot
// paths (a key verification per publish, a callback POST per event).
// AbortSignal.timeout() costs ~8 µs per signal on Node 20 (measured here: it
// registers each signal for garbage-collection tracking); an AbortController
// costs ~20 ns. All signals of one DeadlineSignals share one timeout, so
// their deadlines come in the order they were created: one timer, armed for
// the oldest, aborts what is overdue.
//
// The signals waiting are a linked list, not a Set: a Set that churns at the
// rate of requests keeps what it held alive through young-generation
// collections (see core/id-table.ts), and here that is each request's
// controller, signal and listeners. Unlinked, an entry keeps nothing.

interface Pending {
  readonly abort: (reason: Error) => void;
  readonly deadline: number;
  prev: Pending | undefined;
  next: Pending | undefined;
  linked: boolean;
}

export interface DeadlineSignal {
  readonly signal: AbortSignal;
  /** The request finished: forget its deadline. */
  done(): void;
}

export class DeadlineSignals {
  /** In creation order, hence in deadline order: the oldest first. */
  private head: Pending | undefined;
  private tail: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  start(): DeadlineSignal {
    const controller = new AbortController();
    const tracked = this.track((reason) => controller.abort(reason));
    return { signal: controller.signal, done: tracked.done };
  }

  /** Call `abort` once the timeout has passed, unless done() came first (no AbortSignal at all). */
  track(abort: (reason: Error) => void): { done(): void } {
    const entry: Pending = { abort, deadline: Date.now() + this.timeoutMs, prev: this.tail, next: undefined, linked: true };
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    if (!this.timer) this.arm(entry.deadline);
    return { done: () => this.unlink(entry) };
  }

  private unlink(entry: Pending): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
  }

  private arm(deadline: number): void {
    this.timer = setTimeout(() => this.sweep(), Math.max(0, deadline - Date.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    const now = Date.now();
    for (let entry = this.head; entry; entry = this.head) {
      if (entry.deadline > now) {
        this.arm(entry.deadline);
        return;
      }
      this.unlink(entry);
      entry.abort(new DOMException(`The operation timed out after ${this.timeoutMs} ms`, 'TimeoutError'));
    }
  }

  /** Abort nothing more (at stop). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.head) this.unlink(this.head);
  }
}
