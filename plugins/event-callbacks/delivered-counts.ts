// Deliveries per stream since start, for the console (bounded: the oldest
// stream is forgotten first).

const MAX_STREAMS = 10_000;

export class DeliveredCounts {
  private readonly streams = new Map<string, { count: number; at: number }>();

  note(streamKey: string): void {
    const entry = this.streams.get(streamKey);
    if (entry) {
      entry.count += 1;
      entry.at = Date.now();
      return;
    }
    if (this.streams.size >= MAX_STREAMS) this.streams.delete(this.streams.keys().next().value!);
    this.streams.set(streamKey, { count: 1, at: Date.now() });
  }

  /** A stream's deliveries since start, and when the last one was. */
  of(streamKey: string): { delivered: number; lastDeliveredAt: number | null } {
    const entry = this.streams.get(streamKey);
    return { delivered: entry?.count ?? 0, lastDeliveredAt: entry?.at ?? null };
  }
}
