// Label values of metrics come from a bounded set: a value a peer chose (a
// task name, a provider socket) is used only when the runtime knows it (a
// provider was found for it), only up to a length, and only for the first
// `max` distinct values; everything else is counted under "other". Every
// series lives as long as the process, so this bounds the memory and the
// scrape time whatever callers send.

export const OTHER = 'other';

export class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 200, private readonly maxLength = 64) {}

  /** The label value to use for `value`; `known` says whether the runtime vouches for it. */
  of(value: string, known = true): string {
    if (!known || value.length === 0 || value.length > this.maxLength) return value.length === 0 && known ? '(none)' : OTHER;
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(value);
    return value;
  }

  get size(): number {
    return this.seen.size;
  }
}
