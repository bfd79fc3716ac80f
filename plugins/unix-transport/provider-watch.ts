// A provider that accepted a request and then died (SIGKILL, crash) never
// answers; the caller would wait the whole request timeout. This watch looks,
// once a second and only while such requests are open, whether each provider
// socket is still listening (Linux: /proc/net/unix, by path and inode, so a
// provider restarted on the same path counts as gone too; elsewhere: the file
// exists). A slow provider that is alive is never touched.

import { promises as fs } from 'node:fs';

export interface ProviderWatchOptions {
  /** How often to look, ms. */
  intervalMs: number;
  /** Is the request still waiting for its answer? */
  isOpen(requestId: string): boolean;
  /** The provider serving these requests is gone. */
  onGone(socketPath: string, requestIds: string[]): void;
}

interface Watched {
  /** Inode of the listening socket when first seen; undefined until then. */
  inode: string | undefined;
  requests: Set<string>;
}

/** Listening stream sockets by path → inode, or undefined where /proc/net/unix cannot be read. */
async function listeningSockets(): Promise<Map<string, string> | undefined> {
  let text: string;
  try {
    text = await fs.readFile('/proc/net/unix', 'utf8');
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = listening.
    // Most lines are connections (the listing holds every socket on the machine): passed over before any split.
    if (!line.includes(' 00010000 ')) continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || fields[3] !== '00010000') continue;
    out.set(fields.slice(7).join(' '), fields[6]!);
  }
  return out;
}

export class ProviderWatch {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(private readonly options: ProviderWatchOptions) {}

  /** A provider at `socketPath` accepted `requestId`; its answer is awaited. */
  add(socketPath: string, requestId: string): void {
    let entry = this.watched.get(socketPath);
    if (!entry) {
      entry = { inode: undefined, requests: new Set() };
      this.watched.set(socketPath, entry);
    }
    entry.requests.add(requestId);
    if (!this.timer) {
      this.timer = setInterval(() => void this.sweep(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const [socketPath, entry] of this.watched) {
        for (const id of entry.requests) if (!this.options.isOpen(id)) entry.requests.delete(id);
        if (entry.requests.size === 0) this.watched.delete(socketPath);
      }
      if (this.watched.size === 0) {
        this.stop();
        return;
      }
      const listening = await listeningSockets();
      for (const [socketPath, entry] of this.watched) {
        let alive: boolean;
        if (listening) {
          const inode = listening.get(socketPath);
          alive = inode !== undefined && (entry.inode === undefined || entry.inode === inode);
          if (alive) entry.inode ??= inode;
        } else {
          alive = await fs.stat(socketPath).then((s) => s.isSocket(), () => false);
        }
        if (alive) continue;
        this.watched.delete(socketPath);
        const open = [...entry.requests].filter((id) => this.options.isOpen(id));
        if (open.length > 0) this.options.onGone(socketPath, open);
      }
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
