// A shared budget of bytes: every door that buffers what a peer sends
// (HTTP bodies, unix frames) reserves here as bytes arrive and releases when
// the message is handled, so many slow senders together cannot hold more
// than the configured total in memory. Past it, new bytes are refused.

export class ByteBudget {
  private used = 0;
  private refusedCount = 0;

  constructor(readonly limit: number) {}

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Reservations refused since start. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Reserve `bytes`; false (nothing reserved) when that would pass the limit. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) {
      this.refusedCount += 1;
      return false;
    }
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}
