// Read a request or reply body into memory, refusing more than `limit` bytes
// and, with a budget, more than the shared budget of bytes being received
// over every connection. On refusal the stream is left paused (not
// destroyed), so the caller can still answer on the same connection before
// closing it. Whatever it reserved is released when it settles.
import type { Readable } from 'node:stream';
import { CoordinatorError } from '../../core/errors.js';
import type { ByteBudget } from '../../core/budget.js';

export function readBody(stream: Readable, limit: number, budget?: ByteBudget): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // Settles once: frees the reserved bytes. The listeners of a stream that
    // ended stay on it (it emits nothing after 'end' but 'close', ignored now;
    // a request's stream is its own): only a refused one has them removed.
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (budget && size > 0) budget.release(size);
      return true;
    };
    const refuse = (err: CoordinatorError) => {
      if (!settle()) return;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      if (size + chunk.length > limit) {
        refuse(new CoordinatorError('ERR_FRAME_TOO_LARGE', `body larger than ${limit} bytes`));
        return;
      }
      if (budget && !budget.tryReserve(chunk.length)) {
        refuse(new CoordinatorError('ERR_OVERLOADED', `more than ${budget.limit} bytes of requests are being received at once (maxPendingBytes); retry shortly`));
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = size === chunks[0]?.length ? chunks[0] : Buffer.concat(chunks, size);
      if (settle()) resolve(body);
    };
    const onError = (err: Error) => {
      if (settle()) reject(err);
    };
    // A peer that goes away mid-body: nothing to answer, but the bytes are freed.
    const onClose = () => {
      if (settle()) reject(new CoordinatorError('ERR_BAD_REQUEST', 'connection closed before the body ended'));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
