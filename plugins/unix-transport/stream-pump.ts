// Copy a unix: stream to a writable (an HTTP response) through a few reused
// read buffers. Reading through a Readable allocates a fresh 64 KiB buffer
// per read; at hundreds of MiB/s those pile up as external memory until V8
// collects them (tens of MiB of RSS), and every chunk crosses two stream
// stages. Here the socket reads straight into one of PUMP_BUFFERS buffers
// (net's `onread`), each write hands its buffer back when it has completed,
// and reading pauses while every spare buffer is being written: memory is
// flat and backpressure is end to end.

import net from 'node:net';
import type { Writable } from 'node:stream';
import { CoordinatorError } from '../../core/errors.js';
import { unixSocketPath } from '../../core/wire-url.js';

const PUMP_BUFFER_BYTES = 256 * 1024;
/** One buffer is always spare for the next read (net asks for it as a read completes). */
const PUMP_BUFFERS = 4;

export interface PumpOptions {
  connectTimeoutMs?: number;
  /** Called with the size of each chunk as it passes. */
  onBytes?: (n: number) => void;
}

/**
 * Copy the stream at `url` into the writable `begin` returns. `begin` is
 * called at the first byte (or at the end of an empty stream), before
 * anything is written: a failure before it rejects with nothing written, so
 * the caller can still answer with an error status. Resolves with the byte
 * count once the writable has ended; rejects when the source fails or the
 * writable closes first (the socket is then destroyed).
 */
export function pumpUnixStream(url: URL, begin: () => Writable, options: PumpOptions = {}): Promise<number> {
  if (url.protocol !== 'unix:') return Promise.reject(new CoordinatorError('ERR_UNKNOWN_SCHEME', `not a unix stream: ${url.protocol}`));
  const socketPath = unixSocketPath(url);
  return new Promise<number>((resolve, reject) => {
    const spare: Buffer[] = Array.from({ length: PUMP_BUFFERS }, () => Buffer.allocUnsafeSlow(PUMP_BUFFER_BYTES));
    let sink: Writable | undefined;
    let writing = 0;
    let bytes = 0;
    let ended = false;
    let paused = false;
    let settled = false;

    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sink?.off('close', onSinkClose);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(bytes);
      }
    };
    const onSinkClose = (): void => settle(new Error('the reader left before the end of the stream'));
    const target = (): Writable => {
      if (!sink) {
        sink = begin();
        sink.once('close', onSinkClose);
      }
      return sink;
    };
    const finishIfDone = (): void => {
      if (!ended || writing > 0 || settled) return;
      target().end(() => settle());
    };
    const written = (buffer: Buffer) => (err?: Error | null): void => {
      writing -= 1;
      if (err) {
        settle(err);
        return;
      }
      spare.push(buffer);
      if (paused && !settled) {
        paused = false;
        socket.resume();
      }
      finishIfDone();
    };

    const socket = net.connect({
      path: socketPath,
      onread: {
        // Normally a spare buffer; a fresh one only if net asks while all are out (then it is simply collected).
        buffer: () => spare.pop() ?? Buffer.allocUnsafeSlow(PUMP_BUFFER_BYTES),
        callback: (n: number, buffer: Uint8Array): boolean => {
          if (settled) return false;
          bytes += n;
          options.onBytes?.(n);
          writing += 1;
          target().write((buffer as Buffer).subarray(0, n), written(buffer as Buffer));
          if (spare.length <= 1) {
            paused = true;
            return false;
          }
          return true;
        },
      },
    });
    const timer = setTimeout(() => socket.destroy(new Error(`connect to ${socketPath} timed out`)), options.connectTimeoutMs ?? 10_000);
    socket.once('connect', () => clearTimeout(timer));
    socket.once('end', () => {
      ended = true;
      finishIfDone();
    });
    socket.on('error', (err) => settle(new CoordinatorError('ERR_PROVIDER_FAILED', `stream ${socketPath}: ${err.message}`, { cause: err })));
  });
}
