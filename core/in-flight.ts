// Work under way that a stop must wait for (response deliveries, frames being
// handled, provider tasks, callback POSTs): a count, and who waits for it to
// reach zero; and a wait for any work bounded by a deadline.
//
// Not a Set of the promises: a long-lived Set that takes and drops one per
// request kept what it dropped alive through young-generation collections
// (see core/id-table.ts). A count keeps nothing.

export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];
  private readonly finished = (): void => {
    this.count -= 1;
    if (this.count === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  };

  /** Work under way now. */
  get size(): number {
    return this.count;
  }

  /** Count `work` until it settles (fulfilled or rejected; its rejection is handled here). */
  track(work: Promise<unknown>): void {
    this.count += 1;
    work.then(this.finished, this.finished);
  }

  /** Resolves once nothing is under way (work added meanwhile is waited for too). */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** idle(), or `ms` at most; true when everything finished in time. */
  idleWithin(ms: number): Promise<boolean> {
    return this.count === 0 ? Promise.resolve(true) : withinDeadline(this.idle(), ms);
  }
}

/** Wait for `work` up to `ms`; false when the deadline came first (the work goes on, unawaited). */
export async function withinDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([work.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
