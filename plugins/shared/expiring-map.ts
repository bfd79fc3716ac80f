// A map bounded in time and in count, for what outside parties add without
// end: key verifications cached by key-auth (publishers choose channels and
// keys), console sessions (anyone who signs in). An entry leaves when it
// expires (looked at from the oldest end whenever one is added, and by
// prune()) or when `maxEntries` is reached (the oldest goes first).
//
// Every entry lives the same TTL, and a key set again moves to the newest
// end, so the Map's insertion order is the order of expiry: pruning stops at
// the first entry still valid.

export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value held for `key` if it has not expired at `now`. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Hold `value` for ttlMs from `now`; drops what has expired, then the oldest while full. */
  set(key: string, value: V, now: number): void {
    this.entries.delete(key);
    for (const [oldest, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drop every entry expired at `now`. */
  prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
