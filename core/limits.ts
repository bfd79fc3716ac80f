// What the operating system allows this process, read once at start.
// Node raises the soft open-files limit to the hard limit when it boots
// (so `ulimit -Hn` is what counts); listeners size their connection caps
// from it so that peers cannot take every descriptor.

import { readFileSync } from 'node:fs';

let cached: number | undefined | null = null;

/** The process's open-files limit (soft), or undefined where it cannot be read (not Linux). */
export function openFileLimit(): number | undefined {
  if (cached !== null) return cached;
  cached = undefined;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft && soft !== 'unlimited' && /^\d+$/.test(soft)) cached = Number(soft);
  } catch {
    // not Linux: no limit known
  }
  return cached;
}

/**
 * A share of the descriptor limit for one listener's connections (at least
 * `min`; `fallback` when the limit cannot be read).
 */
export function connectionShare(fraction: number, fallback: number, min = 16): number {
  const limit = openFileLimit();
  if (limit === undefined) return fallback;
  return Math.max(min, Math.floor(limit * fraction));
}
