// A fake control-channel peer (an ingest server or an encoder) written from the
// spec, independent of the runtime's code: its
// own JWT minting (HMAC by hand) and its own message encoder and parser.
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

export function mintToken(secret: string, claims: Record<string, unknown>, alg: 'HS256' | 'HS384' | 'HS512' | 'none' = 'HS256'): string {
  const head = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  if (alg === 'none') return `${head}.${body}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${head}.${body}.${createHmac(hash, secret).update(`${head}.${body}`).digest('base64url')}`;
}

export interface PeerMessage {
  type: string;
  args: Record<string, string>;
  raw: string;
}

export function parsePeerMessage(raw: string): PeerMessage {
  const [first = '', ...rest] = raw.split('\n');
  const args: Record<string, string> = {};
  for (const line of rest) {
    if (line === '') break;
    const i = line.indexOf(':');
    if (i > 0) args[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { type: first.trim().toUpperCase(), args, raw };
}

export class Refused extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`refused with ${status}: ${body}`);
  }
}

export class ControlPeer {
  readonly received: PeerMessage[] = [];
  private waiters: Array<{ type: string | undefined; resolve: (m: PeerMessage) => void }> = [];
  private cursor = 0;
  closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = parsePeerMessage(data.toString());
      this.received.push(message);
      this.flush();
    });
    ws.on('close', () => { this.closed = true; });
  }

  static connect(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<ControlPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, { headers, perMessageDeflate: false });
      ws.once('open', () => resolve(new ControlPeer(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => reject(new Refused(res.statusCode ?? 0, body)));
      });
      ws.once('error', reject);
    });
  }

  private flush(): void {
    for (const waiter of [...this.waiters]) {
      const index = this.received.findIndex((m, i) => i >= this.cursor && (waiter.type === undefined || m.type === waiter.type) && m.type !== 'HEARTBEAT');
      if (index < 0) continue;
      this.cursor = index + 1;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(this.received[index]!);
    }
  }

  /** The next message (of `type`, if given) after the last one returned; heartbeats skipped. */
  next(type?: string, timeoutMs = 5000): Promise<PeerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type ?? 'message'} within ${timeoutMs} ms; got ${this.received.map((m) => m.type).join(',')}`)), timeoutMs);
      this.waiters.push({ type, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      this.flush();
    });
  }

  /** Messages of `type` received so far. */
  all(type: string): PeerMessage[] {
    return this.received.filter((m) => m.type === type);
  }

  /** Send exactly these bytes or this text (malformed messages, binary frames). */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  send(type: string, args: Record<string, string | number> = {}): void {
    this.ws.send(`${type}\n${Object.entries(args).map(([k, v]) => `${k}:${v}\n`).join('')}`);
  }

  /** A clean close; rejects when the server has not completed the closing handshake within `timeoutMs` (the socket is then cut). */
  close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        reject(new Error(`the server did not complete the WebSocket close within ${timeoutMs} ms`));
      }, timeoutMs);
      this.ws.once('close', () => { clearTimeout(timer); resolve(); });
      this.ws.close();
    });
  }

  terminate(): void {
    this.ws.terminate();
  }
}
