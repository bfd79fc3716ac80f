// Channel and key grammar, and the stream id format.

import { randomBytes } from 'node:crypto';

export const DEFAULT_ID_MAX_LENGTH = 128;
const ID_CHARS = /^[A-Za-z0-9_-]+$/;

export function isValidId(value: string, maxLength: number): boolean {
  return value.length > 0 && value.length <= maxLength && ID_CHARS.test(value);
}

/**
 * 32 lowercase hex characters: 8 bytes of Unix time in ms, a 4-byte process
 * counter (pre-incremented, wrapping), 4 random bytes.
 */
export class StreamIdGenerator {
  private counter = 0;
  // Random bytes drawn 4 KiB at a time: one call into the CSPRNG per 1,024 ids.
  private pool = Buffer.alloc(0);
  private offset = 0;

  next(now = Date.now()): string {
    this.counter = (this.counter + 1) >>> 0;
    if (this.offset + 4 > this.pool.length) {
      this.pool = randomBytes(4096);
      this.offset = 0;
    }
    const random = this.pool.toString('hex', this.offset, this.offset + 4);
    this.offset += 4;
    // Written as hex directly (no 16-byte buffer and BigInt per id): the time fits 53 bits, the counter 32.
    return `${Math.max(0, Math.trunc(now)).toString(16).padStart(16, '0')}${this.counter.toString(16).padStart(8, '0')}${random}`;
  }
}
