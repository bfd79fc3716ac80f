// A unix socket server that reads exactly one frame per connection, hands it
// to a handler, writes the handler's ack frame and closes, as acomm peers
// expect. Every connection has a deadline; nothing a peer sends can crash it.

import net from 'node:net';
import { promises as fs } from 'node:fs';
import { IdTable } from '../../core/id-table.js';
import { InFlight } from '../../core/in-flight.js';
import type { Logger } from '../../core/logger.js';
import type { ByteBudget } from '../../core/budget.js';
import { decodeResponse, encodeAck } from '../../core/codec.js';
import type { Response } from '../../core/model.js';
import { FrameReader, encodeFrame } from './framing.js';
import { DeadlineSignals } from '../shared/deadline-signals.js';
import { DEFAULT_DIR_MODE, DEFAULT_SOCKET_MODE, prepareSocketPath, removeSocketFile } from './socket-files.js';

export type BadFrameReason = 'eof' | 'unexpected-eof' | 'too-large' | 'timeout' | 'overloaded';

export interface FrameServerOptions {
  path: string;
  maxFrameBytes: number;
  /** The whole frame must arrive within this time, ms. */
  readTimeoutMs: number;
  socketMode?: number;
  dirMode?: number;
  log: Logger;
  /** Shared budget of bytes being received; a frame that would pass it is refused ('overloaded'). */
  budget?: ByteBudget;
  /** Most connections open at once; more are closed at accept. */
  maxConnections?: number;
  /** After the ack is written the connection is closed; a peer that does not read it is cut after this, ms. Default 2000. */
  writeTimeoutMs?: number;
  /** Handle one frame; resolve with the ack JSON to write, or null to close without an ack. */
  onFrame(body: Buffer): Promise<string | null> | string | null;
  /** A frame that could not be read; return the ack JSON to write, or null to close without one. */
  onBadFrame(reason: BadFrameReason, detail: { declaredLength: number; maxFrameBytes: number }): string | null;
}

export class FrameServer {
  private server: net.Server | undefined;
  /** Open connections by a number of ours (one per message: an IdTable, not a Set churned per connection; see core/id-table.ts). */
  private readonly sockets = new IdTable<net.Socket, number>();
  private nextSocket = 0;
  /** Frames being handled (a count, not a Set churned per frame: see core/in-flight.ts). */
  private readonly handling = new InFlight();
  /** Every connection's read deadline, and its write deadline once acked, on one shared timer each (no timer made per connection). */
  private readonly readDeadlines: DeadlineSignals;
  private readonly writeDeadlines: DeadlineSignals;
  /** The last ack written, framed: an ack that is always the same (a response socket's) is framed once. */
  private lastAck = '';
  private lastAckFrame = encodeFrame('');

  constructor(private readonly options: FrameServerOptions) {
    this.readDeadlines = new DeadlineSignals(options.readTimeoutMs);
    this.writeDeadlines = new DeadlineSignals(options.writeTimeoutMs ?? 2000);
  }

  private framed(ack: string): Buffer {
    if (ack !== this.lastAck) {
      this.lastAckFrame = encodeFrame(ack);
      this.lastAck = ack;
    }
    return this.lastAckFrame;
  }

  get path(): string {
    return this.options.path;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  async listen(): Promise<void> {
    const { path: socketPath } = this.options;
    await prepareSocketPath(socketPath, this.options.dirMode ?? DEFAULT_DIR_MODE);
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
    if (this.options.maxConnections) server.maxConnections = this.options.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.log.error({ err, path: socketPath }, 'socket server error'));
    await fs.chmod(socketPath, this.options.socketMode ?? DEFAULT_SOCKET_MODE);
    this.server = server;
  }

  private onConnection(socket: net.Socket): void {
    const socketId = ++this.nextSocket;
    this.sockets.set(socketId, socket);
    const { budget } = this.options;
    const reader = new FrameReader(this.options.maxFrameBytes);
    let settled = false;
    let reserved = 0;
    const release = () => {
      if (reserved > 0) budget?.release(reserved);
      reserved = 0;
    };
    // One frame, one ack, then the connection is over (as Go's peers close it):
    // a peer that never reads its ack cannot keep the descriptor.
    const finish = (ack: string | null) => {
      if (socket.destroyed) return;
      if (ack === null) {
        socket.destroy();
        return;
      }
      const cut = this.writeDeadlines.track(() => socket.destroy());
      socket.end(this.framed(ack), () => {
        cut.done();
        socket.destroy();
      });
    };
    const bad = (reason: BadFrameReason) => {
      if (settled) return;
      settled = true;
      deadline.done();
      release();
      socket.removeAllListeners('data');
      finish(this.options.onBadFrame(reason, { declaredLength: reader.declaredLength, maxFrameBytes: this.options.maxFrameBytes }));
    };
    const deadline = this.readDeadlines.track(() => bad('timeout'));
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (budget) {
        if (!budget.tryReserve(chunk.length)) {
          bad('overloaded');
          return;
        }
        reserved += chunk.length;
      }
      const state = reader.push(chunk);
      if (state.kind === 'incomplete') return;
      if (state.kind === 'too-large') {
        bad('too-large');
        return;
      }
      settled = true;
      deadline.done();
      socket.pause();
      let pending: Promise<string | null> | string | null;
      try {
        pending = this.options.onFrame(state.body);
      } catch (err) {
        pending = null;
        this.options.log.error({ err }, 'frame handler failed');
      }
      // The frame is decoded by now (synchronously); its bytes no longer count.
      release();
      // An ack known at once (a response socket's) is written at once: no promise per frame.
      if (typeof pending === 'string' || pending === null) {
        finish(pending);
        return;
      }
      this.handling.track(pending.then(finish, (err: unknown) => {
        this.options.log.error({ err }, 'frame handler failed');
        finish(null);
      }));
    });
    socket.on('end', () => {
      if (!settled) bad(reader.bytesBuffered < 4 || reader.declaredLength === 0 ? 'eof' : 'unexpected-eof');
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      deadline.done();
      release();
      this.sockets.delete(socketId);
    });
  }

  /** Stop accepting; let frames being handled finish (up to graceMs); close the rest; remove the file. */
  async close(graceMs = 1000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await this.handling.idleWithin(graceMs);
    for (const socket of this.sockets.values()) socket.destroy();
    await closed;
    this.readDeadlines.close();
    this.writeDeadlines.close();
    await removeSocketFile(this.options.path);
  }
}

const EMPTY_ACK = encodeAck('', '');

export type ResponseSocketOptions = Omit<FrameServerOptions, 'onFrame' | 'onBadFrame'> & {
  /** Called after the ack has been written (the sender never waits for our handling). */
  onResponse(response: Response): void;
};

/**
 * A response socket, as the Go tracker ran one: an unreadable response gets
 * no ack (the connection is just closed); a readable one is acked with
 * ACK("","") at once, whatever its id, then handed on.
 */
export function createResponseSocket(options: ResponseSocketOptions): FrameServer {
  const { onResponse, ...server } = options;
  return new FrameServer({
    ...server,
    onFrame(body) {
      let response: Response;
      try {
        response = decodeResponse(body, { firstValue: true });
      } catch (err) {
        options.log.warn({ err: (err as Error).message, socket: options.path }, 'unreadable response on a response socket');
        return null;
      }
      setImmediate(() => onResponse(response));
      return EMPTY_ACK;
    },
    onBadFrame: (reason) => {
      options.log.warn({ reason, socket: options.path }, 'bad frame on a response socket');
      return null;
    },
  });
}
