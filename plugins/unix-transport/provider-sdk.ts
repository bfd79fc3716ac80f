// Provider SDK: write an acomm provider in a few lines.
//
//   const provider = createProvider({
//     socketDir: '/tmp/cerana', name: 'my-provider',
//     tasks: { Hello: async (args, ctx) => `hello ${args.name}` },
//   });
//   await provider.start();
//
// It listens on <socketDir>/<Task>/<priority>-<name>.sock for each task (that
// is registration), acks each request at once, runs the handler, and sends the
// response to the request's hook, exactly as a Go provider does. Handlers can
// return a stream, and make further requests through the coordinator.

import path from 'node:path';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import type { CoordinatorError } from '../../core/errors.js';
import { InFlight } from '../../core/in-flight.js';
import { decodeRequest, encodeAck, encodeResponse } from '../../core/codec.js';
import { errorResponse, successResponse, type Request, type Response } from '../../core/model.js';
import type { Logger } from '../../core/logger.js';
import { schemeOf, unixSocketPath } from '../../core/wire-url.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { FrameServer } from './frame-server.js';
import { sendMessage } from './frame-client.js';
import { createClient } from './client-sdk.js';
import { offerStream, readUnixStream, type OfferedStream, type StreamSource } from './streams.js';

export interface ProviderTaskContext {
  readonly request: Request;
  readonly log: Logger;
  /** Aborted when the task's timeout passes or the provider stops. */
  readonly signal: AbortSignal;
  /** The request's input stream, if it offered one. */
  readStream(): Readable | null;
  /** Send a request through the coordinator and await its response. */
  send(task: string, args?: unknown, options?: { timeoutMs?: number }): Promise<Response>;
  /** Like send(), returning the result or throwing the error. */
  call<T = unknown>(task: string, args?: unknown, options?: { timeoutMs?: number }): Promise<T>;
  /** Several named requests at once; each member gets a response (errors and timeouts included). */
  fanOut(members: Record<string, { task: string; args?: unknown }>, options?: { timeoutMs?: number }): Promise<Record<string, Response>>;
}

/** Return a result, or { result?, stream } to offer output bytes to the requester. */
export type ProviderTaskHandler = (args: any, context: ProviderTaskContext) => unknown | Promise<unknown>;

export interface ProviderTaskConfig {
  handler: ProviderTaskHandler;
  /** Socket-name prefix; smaller is tried first. Default: the provider's priority. */
  priority?: number;
  /** The handler's time limit, ms (0 = none). Default: the provider's taskTimeoutMs. */
  timeoutMs?: number;
}

export interface ProviderOptions {
  socketDir: string;
  /** The provider's service name (P): sockets are <socketDir>/<Task>/<priority>-<P>.sock. */
  name: string;
  tasks: Record<string, ProviderTaskHandler | ProviderTaskConfig>;
  /** Default 50, as the original. */
  priority?: number;
  /** Where sub-requests go. Default unix://<socketDir>/coordinator/coordinator.sock. */
  coordinatorUrl?: string | URL;
  /** Time a sub-request may take, ms. Default 60000. */
  requestTimeoutMs?: number;
  /** Default handler time limit, ms (0 = none). Default 0. */
  taskTimeoutMs?: number;
  maxFrameBytes?: number;
  /** Time to connect to a hook or the coordinator and read its ack, ms. Default 10000. */
  sendTimeoutMs?: number;
  /** Unread output streams are removed after this time, ms. Default 60000. */
  streamTtlMs?: number;
  log?: Logger;
}

export interface RunningProvider {
  /** Socket path per task. */
  readonly sockets: Readonly<Record<string, string>>;
  readonly responseSocketPath: string;
  start(): Promise<void>;
  /** Deregister (remove task sockets), wait for running handlers, close. */
  stop(graceMs?: number): Promise<void>;
}

interface StreamResult {
  result?: unknown;
  stream: StreamSource;
}

function isStreamResult(value: unknown): value is StreamResult {
  return typeof value === 'object' && value !== null && 'stream' in value && (value as StreamResult).stream !== undefined;
}

export function createProvider(options: ProviderOptions): RunningProvider {
  const log = options.log ?? pino({ level: 'warn', name: options.name });
  const socketDir = path.resolve(options.socketDir);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const running = new InFlight();
  const offered = new Set<OfferedStream>();
  const stopping = new AbortController();
  const servers: FrameServer[] = [];
  const sockets: Record<string, string> = {};


  async function respond(request: Request, response: Response): Promise<void> {
    const hook = request.responseHook;
    if (!hook) return; // no hook: nothing to send, as the original
    if (schemeOf(hook) !== 'unix') {
      log.error({ requestId: request.id, hook: hook.protocol }, 'providers answer unix hooks only; the coordinator gives them one');
      return;
    }
    try {
      const error = await sendMessage(unixSocketPath(hook), encodeResponse(response), { timeoutMs: sendTimeoutMs, maxAckBytes: maxFrameBytes });
      if (error) log.warn({ requestId: request.id, error }, 'response hook refused the response');
    } catch (err) {
      log.warn({ requestId: request.id, err: (err as Error).message }, 'response delivery failed');
    }
  }

  // Sub-requests go through the coordinator with our own response socket as the hook.
  const client = createClient({
    socketDir, name: options.name, log, maxFrameBytes, sendTimeoutMs,
    ...(options.coordinatorUrl ? { coordinatorUrl: options.coordinatorUrl } : {}),
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });

  // ------------------------------------------------------- task handling

  function taskContext(request: Request, signal: AbortSignal): ProviderTaskContext {
    const taskLog = log.child({ requestId: request.id, task: request.task });
    return {
      request,
      log: taskLog,
      signal,
      readStream: () => (request.streamURL && schemeOf(request.streamURL) === 'unix' ? readUnixStream(request.streamURL) : null),
      send: (task, args, o) => client.send(task, args, o),
      call: (task, args, o) => client.call(task, args, o),
      fanOut: (members, o) => client.fanOut(members, o),
    };
  }

  async function runTask(taskName: string, config: ProviderTaskConfig, request: Request): Promise<void> {
    const prefix = `${options.name} ${taskName}: `;
    const timeoutMs = config.timeoutMs ?? options.taskTimeoutMs ?? 0;
    const controller = new AbortController();
    const onStop = () => controller.abort(new Error('provider stopping'));
    stopping.signal.addEventListener('abort', onStop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let response: Response;
    try {
      const work = Promise.resolve().then(() => config.handler(request.args, taskContext(request, controller.signal)));
      const value = timeoutMs > 0
        ? await Promise.race([work, new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort(new Error('task timeout'));
            reject(new Error(`task timeout after ${timeoutMs} ms`));
          }, timeoutMs);
        })])
        : await work;
      if (isStreamResult(value)) {
        const stream = await offerStream(value.stream, { dir: path.join(socketDir, 'streams', taskName, options.name), ttlMs: options.streamTtlMs ?? 60_000 });
        offered.add(stream);
        void stream.finished.then(() => offered.delete(stream));
        response = successResponse(request.id, value.result ?? null, stream.url);
      } else {
        response = successResponse(request.id, value ?? null);
      }
    } catch (err) {
      response = errorResponse(request.id, prefix + ((err as Error)?.message ?? String(err)));
    } finally {
      if (timer) clearTimeout(timer);
      stopping.signal.removeEventListener('abort', onStop);
    }
    await respond(request, response);
  }

  function taskServer(taskName: string, config: ProviderTaskConfig): FrameServer {
    const priority = config.priority ?? options.priority ?? 50;
    const socketPath = path.join(socketDir, taskName, `${priority}-${options.name}.sock`);
    sockets[taskName] = socketPath;
    return new FrameServer({
      path: socketPath,
      maxFrameBytes,
      readTimeoutMs: 10_000,
      log,
      onFrame(body) {
        let request: Request;
        try {
          request = decodeRequest(body, { firstValue: true });
        } catch (err) {
          const e = err as CoordinatorError;
          return encodeAck(e.requestId ?? '', `failed to unmarshal request: ${e.message}`);
        }
        if (!request.id) return encodeAck('', 'missing id');
        if (!request.task) return encodeAck(request.id, 'missing task');
        // The socket selects the handler, whatever the request's task says (as the original).
        const work = runTask(taskName, config, request);
        running.track(work);
        return encodeAck(request.id, '');
      },
      onBadFrame: (reason) => encodeAck('', reason === 'eof' ? 'failed to unmarshal request: EOF' : `failed to unmarshal request: ${reason}`),
    });
  }

  for (const [taskName, entry] of Object.entries(options.tasks)) {
    const config = typeof entry === 'function' ? { handler: entry } : entry;
    servers.push(taskServer(taskName, config));
  }

  return {
    sockets,
    responseSocketPath: client.responseSocketPath,
    async start() {
      await client.start();
      for (const server of servers) await server.listen();
      log.info({ tasks: Object.keys(sockets) }, 'provider listening');
    },
    async stop(graceMs = 5000) {
      await Promise.all(servers.map((s) => s.close(graceMs)));
      await running.idleWithin(graceMs);
      stopping.abort();
      await client.stop();
      await Promise.all([...offered].map((s) => s.close()));
    },
  };
}
