// acomm framing: a 4-byte big-endian length, then that many bytes of JSON.
// We read the header and body fully whatever the packet boundaries (Go read
// the header with one read and misparsed split headers), and refuse a frame
// above the configured maximum before allocating it.

import { CoordinatorError } from '../../core/errors.js';

export const HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Header and body in one buffer, to be written with one write() (Go peers need that). */
export function encodeFrame(json: string): Buffer {
  const bodyLength = Buffer.byteLength(json);
  if (bodyLength > 0xffffffff) throw new CoordinatorError('ERR_FRAME_TOO_LARGE', `frame of ${bodyLength} bytes cannot be framed`);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  frame.write(json, HEADER_BYTES, 'utf8');
  return frame;
}

export type FrameState =
  | { kind: 'incomplete' }
  | { kind: 'frame'; body: Buffer }
  | { kind: 'too-large'; length: number };

const INCOMPLETE: FrameState = Object.freeze({ kind: 'incomplete' });

/** Accumulates chunks until one whole frame is there. One frame per connection. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  get bytesBuffered(): number {
    return this.buffered;
  }

  /** The declared body length, once the header is complete. */
  get declaredLength(): number {
    return this.expected;
  }

  /**
   * Add a chunk. `borrowed`: the chunk's memory is reused once the caller
   * returns (a read buffer of net's `onread`), so it is copied if it must be
   * kept; a frame returned from it must then be used before the caller returns.
   */
  push(chunk: Buffer, borrowed = false): FrameState {
    // The common case, a whole frame in the first chunk: no copy, no concatenation.
    if (this.buffered === 0 && chunk.length >= HEADER_BYTES) {
      const length = chunk.readUInt32BE(0);
      if (length <= this.maxFrameBytes && chunk.length >= HEADER_BYTES + length) {
        this.expected = length;
        this.buffered = chunk.length;
        // Bytes beyond the frame are ignored, as Go ignores a second frame on a connection.
        return { kind: 'frame', body: chunk.subarray(HEADER_BYTES, HEADER_BYTES + length) };
      }
    }
    this.chunks.push(borrowed ? Buffer.from(chunk) : chunk);
    this.buffered += chunk.length;
    if (this.expected < 0) {
      if (this.buffered < HEADER_BYTES) return INCOMPLETE;
      const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.chunks = [joined];
      this.expected = joined.readUInt32BE(0);
      if (this.expected > this.maxFrameBytes) return { kind: 'too-large', length: this.expected };
    }
    if (this.buffered < HEADER_BYTES + this.expected) return INCOMPLETE;
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    return { kind: 'frame', body: joined.subarray(HEADER_BYTES, HEADER_BYTES + this.expected) };
  }
}
