// Which callback goes out next, decided in memory: each stream with waiting
// rows has a queue (its rows in order, as far as they are cached), and a
// min-heap orders the streams by when their head is due. Taking, delivering,
// retrying or dead-lettering a head costs O(log streams) and no database read;
// the database stays the durable record (the outbox writes it first, then
// tells the schedule). Cached rows are bounded: past `maxCachedRows` a stream's
// later rows stay on disk only and are read back, `loadRows` at a time, when
// its cached rows run out. While `keepAll` is set (the outbox holds no index
// to read a stream's rows back with) every row is cached and every queue is
// complete: the schedule is then the whole outbox, in memory.

import { IndexedHeap, type HeapItem } from '../../core/indexed-heap.js';
import type { OutboxRow } from './outbox.js';

interface StreamQueue extends HeapItem {
  readonly key: string;
  rows: OutboxRow[];
  /** Every waiting row of the stream is in `rows` (else more are on disk after them). */
  complete: boolean;
  /** Its head is being delivered (not in the heap). */
  taken: boolean;
  /** Dead letters came back while it was taken: read it again when it is given back. */
  stale: boolean;
}

export type RowLoader = (streamKey: string, limit: number) => OutboxRow[];

export class StreamSchedule {
  private readonly queues = new Map<string, StreamQueue>();
  private readonly heap = new IndexedHeap<StreamQueue>((a, b) => {
    const x = a.rows[0]!;
    const y = b.rows[0]!;
    return x.nextAttemptAt < y.nextAttemptAt || (x.nextAttemptAt === y.nextAttemptAt && x.id < y.id);
  });
  private cached = 0;
  /** Cache every row added, past maxCachedRows too (the outbox sets it while nothing can be read back per stream). */
  keepAll = false;

  constructor(private readonly load: RowLoader, private readonly maxCachedRows = 20_000, private readonly loadRows = 64) {}

  /** Streams with rows waiting (in memory or on disk): none means the outbox is empty. */
  get streams(): number {
    return this.queues.size;
  }

  /** Whether `streamKey` has rows waiting (taken or not). */
  has(streamKey: string): boolean {
    return this.queues.has(streamKey);
  }

  /** Rows held in memory now. */
  get cachedRows(): number {
    return this.cached;
  }

  /** The rows of a stream held in memory, in order (its head first); empty when it has none. */
  rowsOf(streamKey: string): readonly OutboxRow[] {
    return this.queues.get(streamKey)?.rows ?? [];
  }

  /** A stream's head found on disk at open: the rows behind it are read when needed. */
  addHead(row: OutboxRow): void {
    if (this.queues.has(row.streamKey)) return;
    const queue: StreamQueue = { key: row.streamKey, rows: [row], complete: false, taken: false, stale: false, heapIndex: -1 };
    this.queues.set(row.streamKey, queue);
    this.cached += 1;
    this.heap.push(queue);
  }

  /** A row was committed to the outbox. */
  added(row: OutboxRow): void {
    const queue = this.queues.get(row.streamKey);
    if (!queue) {
      const fresh: StreamQueue = { key: row.streamKey, rows: [row], complete: true, taken: false, stale: false, heapIndex: -1 };
      this.queues.set(row.streamKey, fresh);
      this.cached += 1;
      this.heap.push(fresh);
      return;
    }
    if (queue.complete && (this.keepAll || this.cached < this.maxCachedRows)) {
      queue.rows.push(row);
      this.cached += 1;
    } else {
      queue.complete = false; // on disk only, read back in order later
    }
  }

  /** Due heads, at most `slots`, taken out until given back; and when the next head falls due. */
  take(now: number, slots: number): { due: OutboxRow[]; wakeAt: number | undefined } {
    const due: OutboxRow[] = [];
    let wakeAt: number | undefined;
    while (due.length < slots) {
      const queue = this.heap.peek();
      if (!queue) break;
      const head = queue.rows[0]!;
      if (head.nextAttemptAt > now) {
        wakeAt = head.nextAttemptAt;
        break;
      }
      this.heap.remove(queue);
      queue.taken = true;
      due.push(head);
    }
    if (wakeAt === undefined && due.length === slots) wakeAt = this.heap.peek()?.rows[0]!.nextAttemptAt;
    return { due, wakeAt };
  }

  /** The taken head is gone (delivered or dead-lettered): its stream's next row becomes the head. */
  removed(row: OutboxRow): void {
    const queue = this.queues.get(row.streamKey);
    if (!queue) return;
    if (queue.rows[0]?.id === row.id) {
      queue.rows.shift();
      this.cached -= 1;
    }
    this.giveBack(queue);
  }

  /** The taken head stays, due again at `nextAttemptAt` (a retry), or unchanged (a write failed). */
  release(row: OutboxRow, change?: { nextAttemptAt: number; error: string }): void {
    const queue = this.queues.get(row.streamKey);
    if (!queue) return;
    const head = queue.rows[0];
    if (change && head?.id === row.id) {
      head.nextAttemptAt = change.nextAttemptAt;
      head.attempts += 1;
      head.lastError = change.error;
    }
    this.giveBack(queue);
  }

  /** Rows of these streams came back from the dead letters: their queues are read again from disk. */
  reload(streamKeys: Iterable<string>): void {
    for (const key of streamKeys) {
      const queue = this.queues.get(key);
      if (!queue) {
        const fresh: StreamQueue = { key, rows: [], complete: false, taken: false, stale: false, heapIndex: -1 };
        this.queues.set(key, fresh);
        this.giveBack(fresh);
      } else if (queue.taken) {
        queue.stale = true;
      } else {
        this.heap.remove(queue);
        this.forget(queue);
        this.giveBack(queue);
      }
    }
  }

  private forget(queue: StreamQueue): void {
    this.cached -= queue.rows.length;
    queue.rows = [];
    queue.complete = false;
    queue.stale = false;
  }

  private giveBack(queue: StreamQueue): void {
    queue.taken = false;
    if (queue.stale) this.forget(queue);
    if (queue.rows.length === 0 && !queue.complete) {
      // Within the bound (but always the head, so that every stream goes on).
      const limit = Math.max(1, Math.min(this.loadRows, this.maxCachedRows - this.cached));
      const rows = this.load(queue.key, limit);
      queue.rows = rows;
      queue.complete = rows.length < limit;
      this.cached += rows.length;
    }
    if (queue.rows.length === 0) {
      this.queues.delete(queue.key);
      return;
    }
    this.heap.push(queue);
  }
}
