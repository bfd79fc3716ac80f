// HLS encoders and their load. Choosing an encoder is O(log n): eligible
// encoders (registered, not draining, capacity < 0 or load < capacity) sit in
// an indexed binary min-heap ordered by (load, session id) — least loaded
// first, ties to the lowest session id (the original scanned a map in random
// order). Capacity < 0 is unlimited; 0 is never eligible (the code's reading).

import { IndexedHeap, type HeapItem } from '../../core/indexed-heap.js';

export interface EncoderInfo {
  id: number;
  capacity: number;
  load: number;
  draining: boolean;
}

interface Entry extends EncoderInfo, HeapItem {}

function eligible(e: Entry): boolean {
  return !e.draining && (e.capacity < 0 || e.load < e.capacity);
}

function less(a: Entry, b: Entry): boolean {
  return a.load < b.load || (a.load === b.load && a.id < b.id);
}

export interface EncoderTotals {
  load: number;
  capacity: number;
  encoderCount: number;
}

/** The capacity command's totals of any set of encoders (this pool's, or a cluster's): capacity is -1 as soon as one is unlimited. */
export function totalsOf(encoders: Iterable<{ capacity: number; load: number }>): EncoderTotals {
  let load = 0;
  let capacity = 0;
  let unlimited = false;
  let encoderCount = 0;
  for (const e of encoders) {
    encoderCount += 1;
    load += e.load;
    if (e.capacity < 0) unlimited = true;
    else capacity += e.capacity;
  }
  return { load, capacity: unlimited ? -1 : capacity, encoderCount };
}

export class EncoderPool {
  private readonly entries = new Map<number, Entry>();
  /** Eligible encoders only (heapIndex -1: not eligible). */
  private readonly heap = new IndexedHeap<Entry>(less);

  get size(): number {
    return this.entries.size;
  }

  get(id: number): EncoderInfo | undefined {
    const e = this.entries.get(id);
    return e ? { id: e.id, capacity: e.capacity, load: e.load, draining: e.draining } : undefined;
  }

  /** REGISTER: create or replace with the new capacity. Load is kept (the original reset it while streams still ran). */
  register(id: number, capacity: number): void {
    const existing = this.entries.get(id);
    if (existing) {
      existing.capacity = capacity;
      this.reposition(existing);
      return;
    }
    const entry: Entry = { id, capacity, load: 0, draining: false, heapIndex: -1 };
    this.entries.set(id, entry);
    this.reposition(entry);
  }

  remove(id: number): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.heap.remove(entry);
    this.entries.delete(id);
  }

  /** Take one slot on the least loaded eligible encoder; undefined when none has room. */
  acquire(): number | undefined {
    const top = this.heap.peek();
    if (!top) return undefined;
    top.load += 1;
    this.reposition(top);
    return top.id;
  }

  /** Take one slot on encoder `id` if it has room (a request routed from another coordinator names the encoder). */
  acquireId(id: number): boolean {
    const entry = this.entries.get(id);
    if (!entry || !eligible(entry)) return false;
    entry.load += 1;
    this.reposition(entry);
    return true;
  }

  /** Give a slot back (never below 0). */
  release(id: number): void {
    const entry = this.entries.get(id);
    if (!entry || entry.load === 0) return;
    entry.load -= 1;
    this.reposition(entry);
  }

  /** A draining encoder keeps its streams but takes no new ones. */
  setDraining(id: number, draining: boolean): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    entry.draining = draining;
    this.reposition(entry);
    return true;
  }

  /** Totals for the capacity command: capacity is -1 as soon as one encoder is unlimited. */
  totals(): EncoderTotals {
    return totalsOf(this.entries.values());
  }

  list(): EncoderInfo[] {
    return [...this.entries.values()].sort((a, b) => a.id - b.id).map((e) => ({ id: e.id, capacity: e.capacity, load: e.load, draining: e.draining }));
  }

  hasRoom(): boolean {
    return this.heap.size > 0;
  }

  /** Put an encoder where its eligibility and load say (in the heap or out of it). */
  private reposition(entry: Entry): void {
    if (!eligible(entry)) this.heap.remove(entry);
    else if (this.heap.has(entry)) this.heap.update(entry);
    else this.heap.push(entry);
  }
}
