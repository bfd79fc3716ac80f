// One pass over JSON text before JSON.parse: finds where the first value ends
// (Go's streaming decoder ignores what follows it in a frame) and refuses
// nesting and member counts above the limits, so no request can make the
// parser recurse to a stack overflow or spend seconds on hundreds of
// thousands of keys. Strings are skipped with indexOf, so the scan costs a
// small fraction of JSON.parse itself.

import { CoordinatorError } from './errors.js';

export interface JsonLimits {
  /** Deepest nesting of objects and arrays. */
  maxDepth: number;
  /** Most object members in the whole document. */
  maxKeys: number;
}

export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({ maxDepth: 64, maxKeys: 100_000 });

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index just past the closing quote of the string opening at `start` (or text.length when unterminated). */
function stringEnd(text: string, start: number): number {
  let j = start + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    let backslashes = 0;
    for (let k = q - 1; k > start && text.charCodeAt(k) === BACKSLASH; k -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/**
 * Check `text` against the limits and return the end (exclusive) of its first
 * JSON value; text that does not start with an object or array is returned
 * whole (JSON.parse reports what is wrong with it). Throws ERR_BAD_REQUEST.
 */
export function scanJson(text: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): number {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i += 1;
  const open = text.charCodeAt(i);
  if (open !== 0x7b && open !== 0x5b) return text.length;
  let depth = 0;
  let keys = 0;
  for (let j = i; j < text.length; j += 1) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) {
      j = stringEnd(text, j) - 1;
    } else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > limits.maxDepth) {
        throw new CoordinatorError('ERR_BAD_REQUEST', `JSON nested deeper than ${limits.maxDepth} levels`, { details: { maxDepth: limits.maxDepth } });
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth -= 1;
      if (depth === 0) return j + 1;
    } else if (c === COLON) {
      keys += 1;
      if (keys > limits.maxKeys) {
        throw new CoordinatorError('ERR_BAD_REQUEST', `JSON has more than ${limits.maxKeys} object members`, { details: { maxKeys: limits.maxKeys } });
      }
    }
  }
  return text.length;
}
