// A client of a coordinator over unix sockets: sends requests to the
// coordinator's request socket with its own response socket as the hook, and
// matches responses by id. Providers use one for their sub-requests; scripts
// and tools can use one directly.

import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { CoordinatorError } from '../../core/errors.js';
import { IdTable } from '../../core/id-table.js';
import { encodeRequest } from '../../core/codec.js';
import { createRequest, errorResponse, type Response } from '../../core/model.js';
import type { Logger } from '../../core/logger.js';
import { readWireUrl, schemeOf, unixSocketPath, unixUrl } from '../../core/wire-url.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { createResponseSocket } from './frame-server.js';
import { sendMessage } from './frame-client.js';

export interface ClientOptions {
  socketDir: string;
  /** Names the client's response socket: <socketDir>/response/<name>.sock. */
  name: string;
  /** Default unix://<socketDir>/coordinator/coordinator.sock. */
  coordinatorUrl?: string | URL;
  /** Time a request may take, ms. Default 60000. */
  requestTimeoutMs?: number;
  /** Time to connect and read an ack, ms. Default 10000. */
  sendTimeoutMs?: number;
  maxFrameBytes?: number;
  log?: Logger;
}

export interface AcommClient {
  readonly responseSocketPath: string;
  start(): Promise<void>;
  /** Pending requests are answered with an error; the response socket is removed. */
  stop(): Promise<void>;
  /** Send a request and await its response (errors and timeouts as error responses). */
  send(task: string, args?: unknown, options?: { timeoutMs?: number; streamURL?: URL }): Promise<Response>;
  /** The result, or a thrown CoordinatorError with the response's error text. */
  call<T = unknown>(task: string, args?: unknown, options?: { timeoutMs?: number }): Promise<T>;
  /** Several named requests at once; every member gets a response. */
  fanOut(members: Record<string, { task: string; args?: unknown }>, options?: { timeoutMs?: number }): Promise<Record<string, Response>>;
}

export function createClient(options: ClientOptions): AcommClient {
  const log = options.log ?? pino({ level: 'warn', name: options.name });
  const socketDir = path.resolve(options.socketDir);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const coordinatorUrl = typeof options.coordinatorUrl === 'string'
    ? readWireUrl(options.coordinatorUrl, 'coordinatorUrl')!
    : options.coordinatorUrl ?? unixUrl(path.join(socketDir, 'coordinator', 'coordinator.sock'));
  const responseSocketPath = path.join(socketDir, 'response', `${options.name}.sock`);
  const hook = unixUrl(responseSocketPath);
  /** Calls waiting for their response, by id (an IdTable: one comes and goes per call; see core/id-table.ts). */
  const pending = new IdTable<{ id: string; resolve: (r: Response) => void; timer: NodeJS.Timeout }>();

  function settle(id: string, response: Response): void {
    const entry = pending.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    pending.delete(id);
    entry.resolve(response);
  }

  const responseServer = createResponseSocket({
    path: responseSocketPath,
    maxFrameBytes,
    readTimeoutMs: 10_000,
    log,
    onResponse: (response) => settle(response.id, response),
  });

  async function send(task: string, args?: unknown, o: { timeoutMs?: number; streamURL?: URL } = {}): Promise<Response> {
    const id = randomUUID();
    const request = createRequest({ id, task, args: args ?? null, responseHook: hook, streamURL: o.streamURL ?? null });
    const answered = new Promise<Response>((resolve) => {
      const timer = setTimeout(() => settle(id, errorResponse(id, 'response timeout', 'ERR_TIMEOUT')), o.timeoutMs ?? options.requestTimeoutMs ?? 60_000);
      pending.set(id, { id, resolve, timer });
    });
    if (schemeOf(coordinatorUrl) !== 'unix') {
      settle(id, errorResponse(id, 'this client reaches the coordinator over unix sockets only', 'ERR_UNKNOWN_SCHEME'));
      return answered;
    }
    try {
      const error = await sendMessage(unixSocketPath(coordinatorUrl), encodeRequest(request), { timeoutMs: options.sendTimeoutMs ?? 10_000, maxAckBytes: maxFrameBytes });
      if (error) settle(id, errorResponse(id, error));
    } catch (err) {
      settle(id, errorResponse(id, (err as Error).message));
    }
    return answered;
  }

  return {
    responseSocketPath,
    start: () => responseServer.listen(),
    async stop() {
      for (const entry of pending.values()) settle(entry.id, errorResponse(entry.id, 'client stopping', 'ERR_SHUTTING_DOWN'));
      await responseServer.close(0);
    },
    send,
    async call(task, args, o) {
      const response = await send(task, args, o);
      if (response.error) throw new CoordinatorError(response.errorCode ?? 'ERR_PROVIDER_FAILED', response.error, { requestId: response.id, wire: response.error });
      return response.result as never;
    },
    async fanOut(members, o) {
      const names = Object.keys(members);
      const responses = await Promise.all(names.map((n) => send(members[n]!.task, members[n]!.args, o)));
      return Object.fromEntries(names.map((n, i) => [n, responses[i]!]));
    },
  };
}
