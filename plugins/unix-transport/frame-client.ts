// Send one frame to a unix socket and read the ack, as acomm senders do:
// connect, write header+body in one write, read one ack frame, close.

import net from 'node:net';
import { CoordinatorError } from '../../core/errors.js';
import { decodeResponse } from '../../core/codec.js';
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

/** Resolves with the ack body (JSON bytes); rejects when the peer could not be reached or did not ack. */
export function sendFrame(socketPath: string, json: string, options: SendFrameOptions): Promise<Buffer> {
  const frame = encodeFrame(json);
  return new Promise<Buffer>((resolve, reject) => {
    const reader = new FrameReader(options.maxAckBytes ?? DEFAULT_MAX_FRAME_BYTES);
    let connected = false;
    let done = false;
    const socket = net.connect(socketPath);
    const finish = (err: Error | null, body?: Buffer) => {
      if (done) return;
      done = true;
      if (deadline) deadline.done();
      else clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(body!);
    };
    const timedOut = () => finish(new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: no ack within ${options.timeoutMs} ms`, { details: { socket: socketPath } }));
    const deadline = options.deadlines?.track(timedOut);
    const timer = deadline ? undefined : setTimeout(timedOut, options.timeoutMs);
    socket.once('connect', () => {
      connected = true;
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => {
      const state = reader.push(chunk);
      if (state.kind === 'frame') finish(null, state.body);
      else if (state.kind === 'too-large') finish(new CoordinatorError('ERR_FRAME_TOO_LARGE', `unix ${socketPath}: ack of ${state.length} bytes is too large`));
    });
    socket.on('end', () => finish(new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: EOF before ack`, { details: { socket: socketPath } })));
    // An ECONNRESET after the ack has been read is success (the peer closed with our extra bytes unread).
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connected ? new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: ${err.message}`, { cause: err }) : dialError(socketPath, err)));
  });
}

const ACCEPTED_HEAD = Buffer.from('{"error":"","id":"');
const ACCEPTED_TAIL = Buffer.from('","result":null,"streamURL":null}');

/**
 * The ack every acomm peer writes for an accepted message, byte for byte
 * (`{"error":"","id":"<id>","result":null,"streamURL":null}` with an id free
 * of quotes, escapes and control characters): its error is '' with no decoding. Any other ack,
 * even one meaning the same, is decoded.
 */
export function isPlainAcceptance(ack: Buffer): boolean {
  const tailAt = ack.length - ACCEPTED_TAIL.length;
  if (tailAt < ACCEPTED_HEAD.length) return false;
  if (ack.compare(ACCEPTED_HEAD, 0, ACCEPTED_HEAD.length, 0, ACCEPTED_HEAD.length) !== 0) return false;
  if (ack.compare(ACCEPTED_TAIL, 0, ACCEPTED_TAIL.length, tailAt, ack.length) !== 0) return false;
  // The id: no quote, backslash or control character (those make another ack, or an unreadable one).
  for (let i = ACCEPTED_HEAD.length; i < tailAt; i += 1) {
    const byte = ack[i]!;
    if (byte === 0x22 || byte === 0x5c || byte < 0x20) return false;
  }
  return true;
}

/**
 * Send one acomm message and return its ack's error text ('' = accepted).
 * Rejects when the peer cannot be reached or its ack cannot be read.
 */
export async function sendMessage(socketPath: string, json: string, options: SendFrameOptions): Promise<string> {
  const ack = await sendFrame(socketPath, json, options);
  if (isPlainAcceptance(ack)) return '';
  try {
    return decodeResponse(ack, { firstValue: true }).error;
  } catch (err) {
    throw new CoordinatorError('ERR_PROVIDER_FAILED', `unix ${socketPath}: unreadable ack: ${(err as Error).message}`, { cause: err });
  }
}
