// A wire-format fixture independent of our codec and framing: frames are
// built and parsed by hand, JSON is written as literal text the way HEAD Go
// writes it, so our implementation is not only tested against itself.
import net from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export function header(n: number): Buffer {
  return Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

export function frame(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  return Buffer.concat([header(body.length), body]);
}

/** Go's url.URL JSON object for a unix socket path, written as literal text. */
export function goUnixUrl(socketPath: string): string {
  return `{"Scheme":"unix","Opaque":"","User":null,"Host":"","Path":"${socketPath}","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}`;
}

/** Go's url.URL JSON object for an http URL, written as literal text. */
export function goHttpUrl(host: string, urlPath: string): string {
  return `{"Scheme":"http","Opaque":"","User":null,"Host":"${host}","Path":"${urlPath}","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}`;
}

/** A request exactly as a HEAD Go client writes it. */
export function goRequest(id: string, task: string, hookPath: string | null, args = 'null', streamPath: string | null = null): string {
  const hook = hookPath ? goUnixUrl(hookPath) : 'null';
  const stream = streamPath ? goUnixUrl(streamPath) : 'null';
  return `{"id":"${id}","task":"${task}","taskURL":null,"responseHook":${hook},"streamURL":${stream},"args":${args}}`;
}

export function ackText(id: string, error = ''): string {
  return `{"error":${JSON.stringify(error)},"id":"${id}","result":null,"streamURL":null}`;
}

/** Parse one frame by hand from a buffer; null if incomplete. */
export function parseFrame(buf: Buffer): { body: string; rest: Buffer } | null {
  if (buf.length < 4) return null;
  const n = buf[0]! * 0x1000000 + buf[1]! * 0x10000 + buf[2]! * 0x100 + buf[3]!;
  if (buf.length < 4 + n) return null;
  return { body: buf.subarray(4, 4 + n).toString('utf8'), rest: buf.subarray(4 + n) };
}

export interface RawExchange {
  /** Everything the peer sent back, as text frames. */
  frames: string[];
  raw: Buffer;
  /** How the connection ended. */
  ended: 'end' | 'error' | 'timeout';
}

/**
 * Connect, write `chunks` (with `gapMs` between them), optionally half-close,
 * then collect what comes back until the peer closes.
 */
export function rawExchange(socketPath: string, chunks: Buffer[], opts: { gapMs?: number; halfClose?: boolean; timeoutMs?: number } = {}): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const received: Buffer[] = [];
    let ended: RawExchange['ended'] | undefined;
    const timer = setTimeout(() => { ended = 'timeout'; socket.destroy(); }, opts.timeoutMs ?? 5000);
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.halfClose) socket.end();
    });
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('end', () => { ended ??= 'end'; socket.destroy(); });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (received.length === 0 && err.code !== 'ECONNRESET' && err.code !== 'EPIPE') { clearTimeout(timer); reject(err); return; }
      ended ??= 'error';
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(received);
      const frames: string[] = [];
      let rest: Buffer = raw;
      for (let f = parseFrame(rest); f; f = parseFrame(rest)) { frames.push(f.body); rest = f.rest; }
      resolve({ frames, raw, ended: ended ?? 'end' });
    });
  });
}

/** Send one hand-built frame and return the ack text. */
export async function rawSend(socketPath: string, json: string): Promise<string> {
  const { frames } = await rawExchange(socketPath, [frame(json)]);
  if (frames.length !== 1) throw new Error(`expected one ack frame, got ${frames.length}`);
  return frames[0]!;
}

export interface RawPeer {
  path: string;
  /** Bodies of every frame received, in order. */
  received: string[];
  /** Resolves with the next frame body not yet returned by next(). */
  next(): Promise<string>;
  close(): Promise<void>;
}

async function dribble(socket: net.Socket, bytes: Buffer, gapMs: number): Promise<void> {
  for (let i = 0; i < bytes.length && !socket.destroyed; i += 1) {
    socket.write(bytes.subarray(i, i + 1));
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  socket.end();
}

/**
 * A hand-written acomm receiver (a provider or a response hook): reads one
 * frame per connection, replies with `reply(body)` (an ack text, or null to
 * close without one). `ackByteGapMs`: the ack is written one byte at a
 * time, this long apart (a peer whose ack arrives in many reads).
 */
export async function rawPeer(socketPath: string, reply: (body: string) => string | null = () => ackText(''), options: { ackByteGapMs?: number } = {}): Promise<RawPeer> {
  mkdirSync(path.dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  const received: string[] = [];
  const waiters: Array<(body: string) => void> = [];
  let consumed = 0;
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const f = parseFrame(buf);
      if (!f) return;
      received.push(f.body);
      const answer = reply(f.body);
      if (answer === null) socket.destroy();
      else if (options.ackByteGapMs === undefined) socket.end(frame(answer));
      else void dribble(socket, frame(answer), options.ackByteGapMs);
      const waiter = waiters.shift();
      if (waiter) { consumed += 1; waiter(f.body); }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, () => resolve()));
  return {
    path: socketPath,
    received,
    next: () => new Promise((resolve) => {
      if (consumed < received.length) resolve(received[consumed++]!);
      else waiters.push(resolve);
    }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
