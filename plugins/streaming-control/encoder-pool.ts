// HLS encoders and their load. Choosing an encoder is O(log n): eligible
// encoders (registered, not draining, capacity < 0 or load < capacity) sit in
// an indexed binary min-heap ordered by (load, session id) — least loaded
// first, ties to the lowest session id (the original scanned a map in random
// order). Capacity < 0 is unlimited; 0 is never eligible (the code's reading).

export interface EncoderInfo {
  id: number;
  capacity: number;
  load: number;
  draining: boolean;
}

interface Entry extends EncoderInfo {
  /** Position in the heap, -1 when not eligible. */
  index: number;
}

function eligible(e: Entry): boolean {
  return !e.draining && (e.capacity < 0 || e.load < e.capacity);
}

function less(a: Entry, b: Entry): boolean {
  return a.load < b.load || (a.load === b.load && a.id < b.id);
}

export class EncoderPool {
  private readonly entries = new Map<number, Entry>();
  private readonly heap: Entry[] = [];

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
    const entry: Entry = { id, capacity, load: 0, draining: false, index: -1 };
    this.entries.set(id, entry);
    this.reposition(entry);
  }

  remove(id: number): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.index >= 0) this.removeAt(entry.index);
    this.entries.delete(id);
  }

  /** Take one slot on the least loaded eligible encoder; undefined when none has room. */
  acquire(): number | undefined {
    const top = this.heap[0];
    if (!top) return undefined;
    top.load += 1;
    this.reposition(top);
    return top.id;
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
  totals(): { load: number; capacity: number; encoderCount: number } {
    let load = 0;
    let capacity = 0;
    let unlimited = false;
    for (const e of this.entries.values()) {
      load += e.load;
      if (e.capacity < 0) unlimited = true;
      else capacity += e.capacity;
    }
    return { load, capacity: unlimited ? -1 : capacity, encoderCount: this.entries.size };
  }

  list(): EncoderInfo[] {
    return [...this.entries.values()].sort((a, b) => a.id - b.id).map((e) => ({ id: e.id, capacity: e.capacity, load: e.load, draining: e.draining }));
  }

  hasRoom(): boolean {
    return this.heap.length > 0;
  }

  // ------------------------------------------------------------- heap

  private reposition(entry: Entry): void {
    const should = eligible(entry);
    if (!should) {
      if (entry.index >= 0) this.removeAt(entry.index);
      return;
    }
    if (entry.index < 0) {
      entry.index = this.heap.length;
      this.heap.push(entry);
    }
    this.up(entry.index);
    this.down(entry.index);
  }

  private removeAt(index: number): void {
    const last = this.heap.pop()!;
    const removed = this.heap[index] ?? last;
    removed.index = -1;
    if (index < this.heap.length) {
      this.heap[index] = last;
      last.index = index;
      this.up(index);
      this.down(last.index);
    }
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    this.heap[i] = b;
    this.heap[j] = a;
    a.index = j;
    b.index = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(this.heap[i]!, this.heap[parent]!)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && less(this.heap[l]!, this.heap[smallest]!)) smallest = l;
      if (r < n && less(this.heap[r]!, this.heap[smallest]!)) smallest = r;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
