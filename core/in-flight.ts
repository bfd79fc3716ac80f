// Work under way that a stop must wait for (response deliveries, frames being
// handled, provider tasks, callback POSTs): a count, and who waits for it to
// reach zero.
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
  async idleWithin(ms: number): Promise<boolean> {
    if (this.count === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); timer.unref(); });
    const done = await Promise.race([this.idle().then(() => true as const), late]);
    clearTimeout(timer);
    return done;
  }
}
