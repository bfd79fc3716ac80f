// Unix transport: the acomm wire format on unix sockets, exactly as the Go
// coordinator spoke it, so its providers and clients work unmodified.
//
//   <socketDir>/coordinator/<serviceName>.sock   requests from providers and local clients
//   <socketDir>/response/<serviceName>.sock      responses to requests we proxied
//   <socketDir>/<Task>/<priority>-<name>.sock    providers (discovered, best priority first)

import path from 'node:path';
import { promises as fs } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError, isCoordinatorError } from '../../core/errors.js';
import { decodeRequest, encodeAck, encodeRequest, encodeResponse, type EncodeOptions } from '../../core/codec.js';
import type { Request } from '../../core/model.js';
import type { Provider } from '../../core/provider.js';
import { schemeOf, unixSocketPath, unixUrl } from '../../core/wire-url.js';
import { connectionShare } from '../../core/limits.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { FrameServer, createResponseSocket, type BadFrameReason } from './frame-server.js';
import { sendMessage as sendFrameMessage } from './frame-client.js';
import { DeadlineSignals } from '../shared/deadline-signals.js';
import { ProviderDirectory, RESERVED_TASK_NAMES, assertTaskName, type ProviderSocket } from './discovery.js';
import { offerStream, readUnixStream, type OfferedStream, type StreamSource } from './streams.js';
import { pumpUnixStream } from './stream-pump.js';
import { ProviderWatch } from './provider-watch.js';
import { ProviderStats, type ProviderRecord } from './provider-stats.js';
import { argsValidator } from '../shared/task-schemas.js';
import { errorResponse } from '../../core/model.js';

export const PLUGIN_NAME = 'unix-transport';
export const UNIX_TRANSPORT_SERVICE = 'unix.transport';

export interface UnixTransportOptions {
  /** Largest frame accepted, bytes. Default 4 MiB. */
  maxFrameBytes: number;
  /** A whole incoming frame must arrive within this time, ms. */
  readTimeoutMs: number;
  /** Connecting to a peer, writing and reading its ack must complete within this time, ms. */
  sendTimeoutMs: number;
  /** Mode of directories the coordinator creates. Default 0o700 (owner only). */
  dirMode: number;
  /** Mode of socket files the coordinator creates. Default 0o600. */
  socketMode: number;
  /** Opt-in hardening: unix response hooks must lie inside one of these directories. Default null: any path (callers on the unix door are local processes of the coordinator's own user; hooks from HTTP are never unix). */
  allowedHookDirs: string[] | null;
  /** URL form written to peers: 'object' (Go url.URL, default) or 'string'. */
  urlForm: 'object' | 'string';
  /** Also write `stream_url` for peers built before acomm renamed it. */
  legacyStreamKey: boolean;
  /** Unread offered streams are removed after this time, ms. */
  streamTtlMs: number;
  /** Most connections open at once on the request socket. Default: a quarter of the process's open-files limit. */
  maxConnections?: number;
  /** How often to check that providers with unanswered requests are still listening, ms (a dead one fails its requests with ERR_PROVIDER_GONE). 0: never. */
  providerWatchMs: number;
  /** JSON schemas of the args of tasks served by unix providers, by task: requests that do not fit are refused before they are sent. */
  taskSchemas: Record<string, object>;
}

/** What the unix transport offers other plugins (declare 'unix-transport' as a dependency). */
export interface UnixTransportService {
  readonly requestSocketPath: string;
  readonly responseSocketPath: string;
  /** The coordinator's response socket as a URL (the hook providers see for proxied requests). */
  readonly responseHookUrl: URL;
  /** Offer bytes on a one-shot unix socket (acomm NewStreamUnix). */
  offerStream(source: StreamSource, options?: { ttlMs?: number }): Promise<OfferedStream>;
  /** Read a unix: stream URL. */
  readStream(url: URL): Readable;
  /** Copy a unix: stream into the writable `begin` returns at the first byte, through reused buffers (flat memory): see stream-pump.ts. */
  pumpStream(url: URL, begin: () => Writable, onBytes?: (n: number) => void): Promise<number>;
  /** Send one framed message to a socket and return the decoded ack's error text ('' = accepted). */
  sendMessage(socketPath: string, json: string): Promise<string>;
  /** The providers of a task, best first. */
  providersOf(task: string): Promise<ProviderSocket[]>;
  /** Every task with at least one provider socket, and how many. */
  tasks(): Promise<Array<{ task: string; providers: number }>>;
  /** Every task's provider sockets, best first, with when each last accepted or failed (the console's table). */
  providerDetails(): Promise<ProviderDetails[]>;
}

export interface ProviderDetails {
  task: string;
  sockets: Array<ProviderSocket & ProviderRecord>;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxFrameBytes: { description: "Largest frame accepted, bytes.", type: 'integer', minimum: 1024, maximum: 1024 * 1024 * 1024, default: DEFAULT_MAX_FRAME_BYTES },
    readTimeoutMs: { description: "A whole incoming frame must arrive within this, ms.", type: 'integer', minimum: 1, maximum: 600_000, default: 10_000 },
    sendTimeoutMs: { description: "Connecting to a peer, writing and reading its ack must complete within this, ms.", type: 'integer', minimum: 1, maximum: 600_000, default: 10_000 },
    dirMode: { description: "Mode of the directories the coordinator creates (0o700: owner only).", type: 'integer', minimum: 0, maximum: 0o777, default: 0o700 },
    socketMode: { description: "Mode of the socket files the coordinator creates (0o600).", type: 'integer', minimum: 0, maximum: 0o777, default: 0o600 },
    allowedHookDirs: { description: "Opt-in hardening: unix response hooks must lie inside one of these directories. null (default): any path, as the original (callers on the unix door are local processes of the same user; HTTP callers can never name unix hooks).", anyOf: [{ type: 'array', items: { type: 'string', pattern: '^/' } }, { type: 'null' }], default: null },
    urlForm: { description: "URL form written to peers: 'object' (Go url.URL, the only form Go peers read) or 'string'.", enum: ['object', 'string'], default: 'object' },
    legacyStreamKey: { description: "Also write stream_url, for peers built before acomm renamed it.", type: 'boolean', default: false },
    streamTtlMs: { description: "Unread offered streams are removed after this time, ms.", type: 'integer', minimum: 1, maximum: 86_400_000, default: 60_000 },
    maxConnections: { description: "Most connections open at once on the request socket. Default: a quarter of the process's open-files limit.", type: 'integer', minimum: 1, maximum: 1_000_000 },
    taskSchemas: { description: 'JSON schemas of the args of tasks served by unix providers, by task name: a request whose args do not fit is refused (ERR_BAD_REQUEST) before it is sent.', type: 'object', additionalProperties: { type: 'object' }, default: {} },
    providerWatchMs: { description: "How often to check that providers with unanswered requests still listen, ms; a dead one fails its requests with ERR_PROVIDER_GONE within about this time. 0: off.", type: 'integer', minimum: 0, maximum: 600_000, default: 1000 },
  },
};

function isInside(dir: string, target: string): boolean {
  const relative = path.relative(path.resolve(dir), path.resolve(target));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

const UNMARSHAL = 'failed to unmarshal request';

export const unixTransport = definePlugin<UnixTransportOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  apply(api, options) {
    const { runtime, config, log } = api;
    const socketDir = path.resolve(config.socketDir);
    const requestSocketPath = path.join(socketDir, 'coordinator', `${config.serviceName}.sock`);
    const responseSocketPath = path.join(socketDir, 'response', `${config.serviceName}.sock`);
    const responseHookUrl = unixUrl(responseSocketPath);
    const streamDir = path.join(socketDir, 'streams', config.serviceName);
    const allowedHookDirs = options.allowedHookDirs;
    const encodeOptions: EncodeOptions = { urlForm: options.urlForm, legacyStreamKey: options.legacyStreamKey };
    const directory = new ProviderDirectory(socketDir);
    const offered = new Set<OfferedStream>();

    // Every send's deadline on one shared timer (see deadline-signals.ts; unref'd, and left running at stop so that a late send still ends).
    const sendDeadlines = new DeadlineSignals(options.sendTimeoutMs);
    const sendOptions = { timeoutMs: options.sendTimeoutMs, maxAckBytes: options.maxFrameBytes, deadlines: sendDeadlines };
    const watch = options.providerWatchMs > 0 ? new ProviderWatch({
      intervalMs: options.providerWatchMs,
      isOpen: (id) => runtime.trackedRequest(id) !== undefined,
      onGone(socketPath, ids) {
        log.warn({ provider: socketPath, requests: ids.length }, 'provider gone with requests unanswered; failing them now');
        for (const id of ids) {
          runtime.receiveResponse(errorResponse(id, `provider gone: ${socketPath} stopped listening before answering`, 'ERR_PROVIDER_GONE'));
        }
      },
    }) : undefined;
    const sendMessage = (socketPath: string, json: string) => sendFrameMessage(socketPath, json, sendOptions);
    const stats = new ProviderStats();

    /** Every task directory with at least one provider socket (for status and the console, not per request). */
    async function listProviders(): Promise<Array<{ task: string; sockets: ProviderSocket[] }>> {
      const entries = await fs.readdir(socketDir, { withFileTypes: true }).catch(() => []);
      const out: Array<{ task: string; sockets: ProviderSocket[] }> = [];
      for (const entry of entries) {
        if (!entry.isDirectory() || RESERVED_TASK_NAMES.has(entry.name)) continue;
        const sockets = await directory.list(entry.name);
        if (sockets.length > 0) out.push({ task: entry.name, sockets });
      }
      return out.sort((a, b) => a.task.localeCompare(b.task));
    }

    // ---------------------------------------------------------- providers

    function providerFor(task: string, sockets: ProviderSocket[]): Provider {
      return {
        name: `unix:${task}`,
        transport: 'unix',
        async send(request, context) {
          const hookIsUnix = schemeOf(request.responseHook!) === 'unix';
          // A provider never talks to the outside: non-unix hooks are replaced by our response socket.
          const forwarded: Request = { id: request.id, task: request.task, taskURL: null, responseHook: hookIsUnix ? request.responseHook : responseHookUrl, streamURL: request.streamURL, args: request.args };
          const json = encodeRequest(forwarded, encodeOptions);
          const attempts: Array<{ socket: string; error: string; errno?: string }> = [];
          for (const socket of sockets) {
            // Once the request's time is up it has its answer (ERR_TIMEOUT): no further providers.
            if (context.timedOut) break;
            let error: string;
            let errno: string | undefined;
            try {
              error = await sendMessage(socket.path, json);
              if (error === '') {
                if (log.isLevelEnabled('debug')) context.log.debug({ provider: socket.path, attempts: attempts.length }, 'request accepted by provider');
                stats.accepted(socket.path, attempts.length > 0);
                if (attempts.length > 0) runtime.telemetry.emit('provider:failover', { task, provider: socket.path });
                // Its answer comes back through us: notice if it dies first.
                if (!hookIsUnix) watch?.add(socket.path, request.id);
                return { direct: hookIsUnix };
              }
            } catch (err) {
              error = isCoordinatorError(err) ? err.message : String(err);
              errno = isCoordinatorError(err) ? err.details?.errno as string | undefined : undefined;
            }
            attempts.push({ socket: socket.path, error, ...(errno ? { errno } : {}) });
            stats.failed(socket.path);
            runtime.telemetry.emit('provider:failure', { task, provider: socket.path });
            context.log.warn({ provider: socket.path, error }, 'provider refused or unreachable; trying the next');
          }
          // Every cached socket failed: if the listing was stale (a provider left a moment ago), say what is true now.
          if (attempts.length > 0 && attempts.every((a) => a.errno === 'ENOENT' || a.errno === 'ECONNREFUSED')) {
            directory.invalidate(task);
            if ((await directory.list(task)).length === 0) {
              throw new CoordinatorError('ERR_NO_PROVIDER', undefined, { requestId: request.id, details: { task, attempts } });
            }
          }
          const last = attempts[attempts.length - 1]?.error ?? 'no providers available for task';
          throw new CoordinatorError('ERR_PROVIDER_FAILED', last, { requestId: request.id, wire: last, details: { task, attempts } });
        },
      };
    }

    const validators = new Map(Object.entries(options.taskSchemas).map(([task, schema]) => [task, argsValidator(task, schema)] as const));
    api.hooks.onRequest.tap(PLUGIN_NAME, (request) => {
      if (!request.taskURL) validators.get(request.task)?.(request.args, request.id);
      const hook = request.responseHook;
      if (hook && schemeOf(hook) === 'unix') {
        const hookPath = unixSocketPath(hook);
        if (allowedHookDirs && !allowedHookDirs.some((dir) => isInside(dir, hookPath))) {
          throw new CoordinatorError('ERR_URL_NOT_ALLOWED', `responseHook: unix socket ${hookPath} is outside the allowed directories`, { requestId: request.id });
        }
      }
      return request;
    });

    api.hooks.resolveProvider.tapPromise(PLUGIN_NAME, async (request) => {
      if (request.taskURL) return undefined;
      assertTaskName(request.task, request.id);
      const sockets = await directory.list(request.task);
      return sockets.length > 0 ? providerFor(request.task, sockets) : undefined;
    });

    api.registerDelivery('unix', {
      async deliver(hook, response, context) {
        const error = await sendMessage(unixSocketPath(hook), encodeResponse(response, encodeOptions));
        if (error) throw new CoordinatorError('ERR_DELIVERY', `unix hook refused the response: ${error}`, { requestId: response.id });
        context.log.debug({ hook: hook.href }, 'response delivered');
      },
    });

    // ---------------------------------------------------------- listeners

    const badFrameAck = (reason: BadFrameReason, detail: { declaredLength: number; maxFrameBytes: number }): string => {
      switch (reason) {
        case 'eof': return encodeAck('', `${UNMARSHAL}: EOF`);
        case 'unexpected-eof': return encodeAck('', `${UNMARSHAL}: unexpected EOF`);
        case 'too-large': return encodeAck('', `frame too large: ${detail.declaredLength} bytes exceeds the maximum of ${detail.maxFrameBytes}`);
        case 'timeout': return encodeAck('', `${UNMARSHAL}: timeout: no complete frame within ${options.readTimeoutMs} ms`);
        case 'overloaded': return encodeAck('', `coordinator overloaded: more than ${runtime.config.maxPendingBytes} bytes of requests are being received at once (maxPendingBytes); retry shortly`);
      }
    };

    const requestServer = new FrameServer({
      path: requestSocketPath,
      maxFrameBytes: options.maxFrameBytes,
      readTimeoutMs: options.readTimeoutMs,
      dirMode: options.dirMode,
      socketMode: options.socketMode,
      log,
      budget: runtime.receiveBudget,
      maxConnections: options.maxConnections ?? connectionShare(0.25, 1024),
      async onFrame(body) {
        if (body.length === 0) return encodeAck('', `${UNMARSHAL}: EOF`);
        let request: Request;
        try {
          request = decodeRequest(body, { firstValue: true, limits: runtime.jsonLimits });
        } catch (err) {
          const e = err as CoordinatorError;
          return encodeAck(e.requestId ?? '', `${UNMARSHAL}: ${e.message}`);
        }
        try {
          await runtime.dispatch(request, { origin: 'unix' });
          return encodeAck(request.id, '');
        } catch (err) {
          const e = err as CoordinatorError;
          return encodeAck(request.id, e.wireMessage ?? e.message);
        }
      },
      onBadFrame: (reason, detail) => {
        if (reason === 'overloaded') runtime.telemetry.emit('overloaded', { door: 'unix' });
        log.warn({ reason, ...detail, socket: requestSocketPath }, 'bad frame on the request socket');
        return badFrameAck(reason, detail);
      },
    });

    const responseServer = createResponseSocket({
      path: responseSocketPath,
      maxFrameBytes: options.maxFrameBytes,
      readTimeoutMs: options.readTimeoutMs,
      dirMode: options.dirMode,
      socketMode: options.socketMode,
      log,
      onResponse: (response) => runtime.receiveResponse(response),
    });

    api.provide(UNIX_TRANSPORT_SERVICE, {
      requestSocketPath,
      responseSocketPath,
      responseHookUrl,
      async offerStream(source, streamOptions = {}) {
        const stream = await offerStream(source, { dir: streamDir, ttlMs: streamOptions.ttlMs ?? options.streamTtlMs });
        offered.add(stream);
        void stream.finished.then(() => offered.delete(stream));
        return stream;
      },
      readStream: (url) => readUnixStream(url),
      pumpStream: (url, begin, onBytes) => pumpUnixStream(url, begin, onBytes ? { onBytes } : {}),
      sendMessage,
      providersOf: (task) => directory.list(task),
      async tasks() {
        return (await listProviders()).map(({ task, sockets }) => ({ task, providers: sockets.length }));
      },
      async providerDetails() {
        return (await listProviders()).map(({ task, sockets }) => ({ task, sockets: sockets.map((s) => ({ ...s, ...stats.of(s.path) })) }));
      },
    });

    api.readiness(() => requestServer.listening && responseServer.listening);
    api.onStart(async () => {
      await responseServer.listen();
      await requestServer.listen();
      log.info({ requestSocket: requestSocketPath, responseSocket: responseSocketPath }, 'unix transport listening');
    });
    // Stop taking requests first; responses keep arriving while in-flight requests drain.
    api.onDrain(() => requestServer.close());
    api.onStop(async () => {
      watch?.stop();
      directory.close();
      await responseServer.close();
      await Promise.all([...offered].map((s) => s.close()));
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'unix.transport': UnixTransportService;
  }
}
