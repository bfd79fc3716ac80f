// Streams between unix peers: raw bytes, no framing, no ack, end = close.
// offerStream() is the acomm NewStreamUnix equivalent: a one-shot socket that
// serves its source to the first reader, then disappears. Unread sockets
// expire instead of living until shutdown (W19).

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { Readable, PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CoordinatorError } from '../../core/errors.js';
import { unixSocketPath, unixUrl } from '../../core/wire-url.js';
import { DEFAULT_SOCKET_MODE, ensureDir, removeSocketFile } from './socket-files.js';

/** Bytes to offer: a stream, bytes, or a function called when the reader connects (lazy: W19). */
export type StreamSource = Readable | Buffer | string | (() => Readable | Promise<Readable>);

export interface OfferStreamOptions {
  /** Directory for the socket (created 0700 if missing). */
  dir: string;
  /** The socket is removed if nobody connects within this time, ms. Default 60000. */
  ttlMs?: number;
}

export interface OfferedStream {
  url: URL;
  path: string;
  /** Resolves when the stream was served (true) or expired/closed unread (false). */
  finished: Promise<boolean>;
  close(): Promise<void>;
}

async function toReadable(source: StreamSource): Promise<Readable> {
  if (typeof source === 'function') return source();
  if (typeof source === 'string' || Buffer.isBuffer(source)) return Readable.from([Buffer.from(source)]);
  return source;
}

export async function offerStream(source: StreamSource, options: OfferStreamOptions): Promise<OfferedStream> {
  await ensureDir(options.dir);
  const socketPath = path.join(options.dir, `${randomBytes(8).readBigUInt64BE().toString()}.sock`);
  const server = net.createServer();
  let served = false;
  let resolveFinished!: (value: boolean) => void;
  const finished = new Promise<boolean>((resolve) => { resolveFinished = resolve; });
  const close = async () => {
    clearTimeout(timer);
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await removeSocketFile(socketPath);
    if (!served) {
      if (typeof source === 'object' && source instanceof Readable) source.destroy();
      resolveFinished(false);
    }
  };
  const timer = setTimeout(() => void close(), options.ttlMs ?? 60_000);
  timer.unref();
  server.on('connection', (socket) => {
    if (served) {
      socket.destroy();
      return;
    }
    served = true;
    clearTimeout(timer);
    // One reader only: stop listening and remove the file before serving.
    server.close();
    void removeSocketFile(socketPath);
    toReadable(source)
      .then((readable) => pipeline(readable, socket))
      .catch(() => socket.destroy())
      .finally(() => resolveFinished(true));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await fs.chmod(socketPath, DEFAULT_SOCKET_MODE);
  return { url: unixUrl(socketPath), path: socketPath, finished, close };
}

/** Read a unix: stream URL: connect and read to EOF, with backpressure. */
export function readUnixStream(url: URL, options: { connectTimeoutMs?: number } = {}): Readable {
  if (url.protocol !== 'unix:') throw new CoordinatorError('ERR_UNKNOWN_SCHEME', `not a unix stream: ${url.protocol}`);
  const out = new PassThrough();
  const socketPath = unixSocketPath(url);
  const socket = net.connect(socketPath);
  const timer = setTimeout(() => socket.destroy(new Error(`connect to ${socketPath} timed out`)), options.connectTimeoutMs ?? 10_000);
  socket.once('connect', () => clearTimeout(timer));
  socket.on('error', (err) => {
    clearTimeout(timer);
    out.destroy(new CoordinatorError('ERR_PROVIDER_FAILED', `stream ${socketPath}: ${err.message}`, { cause: err }));
  });
  socket.pipe(out);
  out.on('close', () => socket.destroy());
  return out;
}
