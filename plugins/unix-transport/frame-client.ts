// Send one frame to a unix socket and read the ack, as acomm senders do:
// connect, write header+body in one write, read one ack frame, close.

import net from 'node:net';
import { CoordinatorError } from '../../core/errors.js';
import { decodeResponse } from '../../core/codec.js';
import { isPlainAcceptance } from '../../core/plain-ack.js';
import { FrameReader, encodeFrame, DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import type { DeadlineSignals } from '../shared/deadline-signals.js';

export interface SendFrameOptions {
  /** Connect, write and ack must complete within this time, ms. */
  timeoutMs: number;
  maxAckBytes?: number;
  /** Deadlines of timeoutMs on one shared timer (a sender making many sends): no timer made per send. */
  deadlines?: DeadlineSignals;
}

/** Go's wording for dial failures, which peers and users know. */
function dialError(socketPath: string, err: NodeJS.ErrnoException): CoordinatorError {
  const reason = err.code === 'ECONNREFUSED' ? 'connection refused'
    : err.code === 'ENOENT' ? 'no such file or directory'
    : err.code === 'EACCES' ? 'permission denied'
    : err.message;
  return new CoordinatorError('ERR_PROVIDER_FAILED', `dial unix ${socketPath}: connect: ${reason}`, { cause: err, details: { socket: socketPath, errno: err.code } });
}

/**
 * Every send reads its ack into this one buffer (net's `onread`): no buffer
 * is allocated per read and no Readable stream carries the bytes. An ack is
 * handled inside the read's callback, before the buffer can be read into
 * again; a partial one is copied out (FrameReader's `borrowed`).
 */
const ACK_READS = Buffer.allocUnsafeSlow(64 * 1024);

/** The ack's error text ('' = accepted): the plain acceptance is recognised without decoding. */
function ackError(socketPath: string, ack: Buffer): string {
  if (isPlainAcceptance(ack)) return '';
  try {
    return decodeResponse(ack, { firstValue: true }).error;
  } catch (err) {
    throw new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: unreadable ack: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Send one acomm message and return its ack's error text ('' = accepted).
 * Rejects when the peer cannot be reached or its ack cannot be read.
 */
export function sendMessage(socketPath: string, json: string, options: SendFrameOptions): Promise<string> {
  const frame = encodeFrame(json);
  return new Promise<string>((resolve, reject) => {
    const reader = new FrameReader(options.maxAckBytes ?? DEFAULT_MAX_FRAME_BYTES);
    let connected = false;
    let done = false;
    const finish = (err: Error | null, error?: string) => {
      if (done) return;
      done = true;
      if (deadline) deadline.done();
      else clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(error!);
    };
    const socket = net.connect({
      path: socketPath,
      onread: {
        buffer: ACK_READS,
        callback: (n: number, buffer: Uint8Array): boolean => {
          if (done) return false;
          const state = reader.push((buffer as Buffer).subarray(0, n), true);
          if (state.kind === 'frame') {
            // An unreadable ack fails the send (finish ignores a second call).
            try {
              finish(null, ackError(socketPath, state.body));
            } catch (err) {
              finish(err as Error);
            }
            return false;
          }
          if (state.kind === 'too-large') {
            finish(new CoordinatorError('ERR_FRAME_TOO_LARGE', `unix ${socketPath}: ack of ${state.length} bytes is too large`));
            return false;
          }
          return true;
        },
      },
    });
    const timedOut = () => finish(new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: no ack within ${options.timeoutMs} ms`, { details: { socket: socketPath } }));
    const deadline = options.deadlines?.track(timedOut);
    const timer = deadline ? undefined : setTimeout(timedOut, options.timeoutMs);
    socket.once('connect', () => {
      connected = true;
      socket.write(frame);
    });
    socket.on('end', () => finish(new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: EOF before ack`, { details: { socket: socketPath } })));
    // An ECONNRESET after the ack has been read is success (the peer closed with our extra bytes unread).
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connected ? new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: ${err.message}`, { cause: err }) : dialError(socketPath, err)));
  });
}
