// Streaming control plane: ingest servers (RTMP, WebSocket) and HLS encoders
// connect over authenticated WebSocket control channels; publishes go through
// the runtime's pipeline (ID check and key auth as onRequest taps, encoder
// choice as a resolveProvider tap); encoder reports become onEvent events;
// the application calls the commands API. A drop-in for the Go coordinator.

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { successResponse } from '../../core/model.js';
import { makeEvent } from '../../core/events.js';
import type { Provider } from '../../core/provider.js';
import { HTTP_SERVER_SERVICE, notFound, refuseUpgrade, type HttpServerService } from '../http-server/index.js';
import { DEFAULT_STREAM_SETTINGS, KEY_AUTH_ATTRIBUTE, PUBLISH_TASK, type PublishArgs, type StreamSettings } from '../key-auth/index.js';
import { STREAM_AVAILABLE, STREAM_CLOSED } from '../shared/stream-events.js';
import { intVar, type Env } from '../shared/env.js';
import { firstHeader } from '../shared/headers.js';
import { parseMessage, arg } from './messages.js';
import type { ControlRole } from './control-auth.js';
import { isValidId, StreamIdGenerator } from './ids.js';
import { ClusterLink } from './cluster-link.js';
import { ControlPlane, externalIpOf, ingestTypeOf, plainIp, portOf, sourceUri, type ControlPlaneDetails, type Session } from './control-plane.js';
export type { ControlPlaneDetails, Substream } from './control-plane.js';
import { authorize, commandsAuthCheck, json, logCommandsAuthProblem, resolveCommandsAuth, unauthorized } from '../shared/commands-auth.js';

export const PLUGIN_NAME = 'streaming-control';
export const STREAMING_SERVICE = 'streaming.control';
const SESSION_ATTRIBUTE = 'streaming.session';
const BANNER = 'Coordinator streaming server - Version 1.0.0';

export interface StreamingControlOptions {
  /** CONTROL_SECRET: HMAC secret of the control JWTs. Empty: control channels closed (403). */
  controlSecret: string;
  /** Development only: accept control connections without a valid token when no secret is set. */
  allowUnauthenticatedControl: boolean;
  /** ID_MAX_LENGTH: longest channel id and stream key; 0 or less refuses every id (as the original). */
  idMaxLength: number;
  heartbeatIntervalMs: number;
  inactivityTimeoutMs: number;
  /** Largest control message accepted, bytes. */
  maxMessageBytes: number;
  /** Wait this long for encoder capacity instead of denying at once (0: deny, as the original). */
  publishQueueMs: number;
  /** Move an encoder's streams to another encoder when it disconnects. */
  reassignOnEncoderLoss: boolean;
  /** LOG_DEBUG: log every control message (stream keys redacted). */
  logMessages: boolean;
  /** LOG_REQUESTS: log every HTTP request of this plugin. */
  logRequests: boolean;
}

export interface StreamingService {
  capacity(): { load: number; capacity: number; encoderCount: number };
  report(): ReturnType<ControlPlane['report']>;
  /** More than the Go-compatible report: connection ages, draining flags, stream ages and announced sub-streams (the console's tables). */
  details(): ControlPlaneDetails;
  /** The close command: STREAM-KILL to the channel's publisher; false when no such channel is publishing. */
  closeStream(channel: string, streamId: string): boolean;
  /** A draining encoder keeps its streams and takes no new ones. */
  drainEncoder(id: number, draining: boolean): boolean;
  /** Connected control sessions by role. */
  sessionCounts(): Record<ControlRole, number>;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    controlSecret: { description: "HMAC secret of the control JWTs. Empty: control channels closed (403).", env: "CONTROL_SECRET", type: 'string', default: '' },
    allowUnauthenticatedControl: { description: "Development only: accept control connections without a token when no secret is set.", type: 'boolean', default: false },
    idMaxLength: { description: "Longest channel id and stream key; 0 or less refuses every id (as the original). A variable that is not an integer means 128.", env: "ID_MAX_LENGTH", type: 'integer', maximum: 65_536, default: 128 },
    heartbeatIntervalMs: { description: "Heartbeat interval of control channels, ms.", type: 'integer', minimum: 10, default: 20_000 },
    inactivityTimeoutMs: { description: "A control peer silent this long is disconnected, ms.", type: 'integer', minimum: 10, default: 60_000 },
    maxMessageBytes: { description: "Largest control message accepted, bytes (larger: the connection is closed).", type: 'integer', minimum: 1024, maximum: 16 * 1024 * 1024, default: 64 * 1024 },
    publishQueueMs: { description: "Wait this long for encoder capacity instead of denying at once, ms (0: deny, as the original).", type: 'integer', minimum: 0, maximum: 60_000, default: 0 },
    reassignOnEncoderLoss: { description: "Move an encoder's streams to another encoder when it disconnects.", type: 'boolean', default: false },
    logMessages: { description: "Log every control message at debug level (stream keys redacted).", env: "LOG_DEBUG=YES", type: 'boolean', default: false },
    logRequests: { description: "Log every commands API request.", env: "LOG_REQUESTS=NO turns it off", type: 'boolean', default: true },
  },
};

export function streamingEnv(env: Env): Partial<StreamingControlOptions> {
  return {
    controlSecret: env.CONTROL_SECRET,
    // Not an integer: the default (128), as the original read it.
    idMaxLength: intVar(env, 'ID_MAX_LENGTH'),
    logMessages: env.LOG_DEBUG === undefined ? undefined : env.LOG_DEBUG === 'YES',
    logRequests: env.LOG_REQUESTS === undefined ? undefined : env.LOG_REQUESTS !== 'NO',
  };
}

const ROLE_PATHS: Record<string, ControlRole> = { '/ws/control/rtmp': 'rtmp', '/ws/control/wss': 'wss', '/ws/control/hls': 'hls' };

export const streamingControl = definePlugin<StreamingControlOptions>({
  name: PLUGIN_NAME,
  dependencies: ['http-server', 'key-auth'],
  optionsSchema,
  env: streamingEnv,
  check(options, { config, env }) {
    const problems = commandsAuthCheck(config.commandsApi, env);
    if (!options.controlSecret && !options.allowUnauthenticatedControl) problems.push({ path: 'controlSecret', message: 'CONTROL_SECRET is not set: control channels are closed (every ingest server and encoder is refused)', severity: 'warning' });
    return problems;
  },
  async apply(api, options) {
    // ws and jose are loaded only when the plugin is configured.
    const [{ WebSocketServer }, { verifyControlToken }] = await Promise.all([import('ws'), import('./control-auth.js')]);
    const { runtime, log } = api;
    const secret = new TextEncoder().encode(options.controlSecret);
    const maxIdLength = options.idMaxLength;
    const ids = new StreamIdGenerator();
    const http = api.service(HTTP_SERVER_SERVICE);
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: options.maxMessageBytes });
    const capacityWaiters: Array<() => void> = [];
    let nextSessionId = 0;
    let accepting = true;

    const plane = new ControlPlane({ reassignOnEncoderLoss: options.reassignOnEncoderLoss, log, logMessages: options.logMessages }, {
      streamAvailable: (data) => runtime.emit(makeEvent(STREAM_AVAILABLE, data)),
      streamClosed: (data) => runtime.emit(makeEvent(STREAM_CLOSED, data)),
      capacityFreed: () => {
        for (const wake of capacityWaiters.splice(0)) wake();
      },
      channelClosed: (channel) => link?.released(channel),
      encoderChanged: (id) => link?.encoderChanged(id),
    });
    // With the cluster plugin's nats engine: channels are claimed cluster-wide (see cluster-link.ts).
    let link: ClusterLink | undefined;

    // ------------------------------------------------------ the publish pipeline

    // Channel and key grammar first: a bad id never reaches the verifier.
    api.hooks.onRequest.tap({ name: PLUGIN_NAME, stage: -50 }, (request) => {
      if (request.task !== PUBLISH_TASK) return request;
      const args = (request.args ?? {}) as Partial<PublishArgs>;
      if (!isValidId(String(args.channel ?? ''), maxIdLength)) throw new CoordinatorError('ERR_REJECTED', 'invalid channel id', { requestId: request.id });
      if (!isValidId(String(args.key ?? ''), maxIdLength)) throw new CoordinatorError('ERR_REJECTED', 'invalid stream key', { requestId: request.id });
      return request;
    });

    function waitForCapacity(deadline: number): Promise<number | undefined> {
      return new Promise((resolve) => {
        const attempt = () => {
          const id = plane.encoders.acquire();
          if (id !== undefined) { clearTimeout(timer); resolve(id); return; }
          if (Date.now() >= deadline) { resolve(undefined); return; }
          capacityWaiters.push(attempt);
        };
        const timer = setTimeout(() => {
          const index = capacityWaiters.indexOf(attempt);
          if (index >= 0) capacityWaiters.splice(index, 1);
          resolve(undefined);
        }, Math.max(0, deadline - Date.now()));
        attempt();
      });
    }

    const scheduler: Provider = {
      name: 'hls-encoder-scheduler',
      transport: 'ws',
      async send(request, ctx) {
        const session = plane.sessions.get(ctx.attributes[SESSION_ATTRIBUTE] as number);
        if (!session?.alive) throw new CoordinatorError('ERR_REJECTED', 'publisher session is gone', { requestId: request.id });
        const args = request.args as PublishArgs;
        const streamId = ids.next();
        const settings = (ctx.attributes[KEY_AUTH_ATTRIBUTE] as StreamSettings | undefined) ?? DEFAULT_STREAM_SETTINGS;
        const method = ingestTypeOf(session.role);
        if (!plane.open({ name: args.channel, publisher: session.id, method, streamId, sourceUri: sourceUri(session, method, args.channel, args.key), settings })) {
          throw new CoordinatorError('ERR_REJECTED', `channel ${args.channel} is already publishing`, { requestId: request.id });
        }
        // The channel is still this publish's after an await (the publisher may have left, or ended it, meanwhile).
        const opened = plane.channels.get(args.channel)!;
        const stillOurs = () => plane.channels.get(args.channel) === opened;
        if (link) {
          const verdict = await link.claim(opened);
          if (verdict !== 'ok' || !stillOurs()) {
            if (stillOurs()) plane.close(args.channel);
            else if (verdict === 'ok') link.released(opened); // ended while we claimed: free the claim we just won
            throw new CoordinatorError('ERR_REJECTED', verdict === 'taken' ? `channel ${args.channel} is already publishing on another coordinator` : verdict === 'unavailable' ? 'cluster state unavailable: publishes are refused until it is back' : 'publisher session is gone', { requestId: request.id });
          }
        }
        let encoderId = plane.encoders.acquire();
        if (encoderId === undefined && options.publishQueueMs > 0) encoderId = await waitForCapacity(Date.now() + options.publishQueueMs);
        const channel = opened;
        if (encoderId === undefined || !plane.sessions.get(encoderId)?.alive || !session.alive || !stillOurs()) {
          if (encoderId !== undefined) plane.encoders.release(encoderId);
          if (stillOurs()) plane.close(args.channel);
          throw new CoordinatorError('ERR_NO_PROVIDER', 'no encoder with spare capacity', { requestId: request.id });
        }
        plane.assignEncoder(channel, encoderId);
        link?.encoderChosen(channel);
        plane.encodeStart(channel);
        setImmediate(() => runtime.receiveResponse(successResponse(request.id, { streamId, encoder: encoderId })));
      },
    };
    api.hooks.resolveProvider.tap({ name: PLUGIN_NAME, stage: -30 }, (request) => (request.task === PUBLISH_TASK && !request.taskURL ? scheduler : undefined));

    async function onPublishRequest(session: Session, message: ReturnType<typeof parseMessage>): Promise<void> {
      const requestId = arg(message, 'Request-ID');
      const channel = arg(message, 'Stream-Channel');
      const echo = { 'Request-ID': requestId, 'Stream-Channel': channel };
      const response = await runtime.inject(
        { task: PUBLISH_TASK, args: { channel, key: arg(message, 'Stream-Key'), userIp: arg(message, 'User-IP') } satisfies PublishArgs },
        { origin: 'ws', remoteAddress: session.remoteIp, attributes: { [SESSION_ATTRIBUTE]: session.id } },
      );
      if (!session.alive) return; // the publisher left while we verified: nobody to answer
      runtime.telemetry.emit('publish', { accepted: !response.error, reason: response.error ? (response.errorCode ?? 'error') : 'accepted' });
      if (response.error) {
        log.debug({ session: session.id, channel, reason: response.error }, 'publish denied');
        plane.send(session, 'PUBLISH-DENY', echo);
        return;
      }
      const { streamId } = response.result as { streamId: string };
      log.debug({ session: session.id, channel, streamId }, 'publish accepted');
      plane.send(session, 'PUBLISH-ACCEPT', { ...echo, 'Stream-ID': streamId });
    }

    // ------------------------------------------------------ sessions

    function handle(session: Session, text: string): void {
      plane.logIncoming(session, text);
      const message = parseMessage(text);
      const ingest = session.role !== 'hls';
      switch (message.type) {
        case 'HEARTBEAT': return;
        case 'ERROR':
          log.warn({ session: session.id, code: arg(message, 'Error-Code'), message: arg(message, 'Error-Message') }, 'peer reported an error');
          return;
        case 'PUBLISH-REQUEST':
          // Verification runs outside the message loop: one slow verifier does not stall the session.
          if (ingest) void onPublishRequest(session, message).catch((err: unknown) => log.error({ err }, 'publish flow failed'));
          return;
        case 'PUBLISH-END':
          if (ingest) plane.publishEnd(session, message);
          return;
        case 'REGISTER':
          if (!ingest) plane.register(session, message);
          return;
        case 'STREAM-AVAILABLE':
          if (!ingest) void plane.streamAvailable(message);
          return;
        case 'STREAM-CLOSED':
          if (!ingest) void plane.streamClosed(session, message);
          return;
        default:
          return; // unknown or misplaced types are ignored, as the original
      }
    }

    function startSession(ws: WebSocket, role: ControlRole, req: http.IncomingMessage, id: number): void {
      const remoteIp = plainIp(req.socket.remoteAddress);
      const raw = req.socket;
      let corked = false;
      const uncork = () => {
        corked = false;
        raw.uncork();
      };
      const onWritten = (err?: Error) => { if (err) log.debug({ session: id, err: err.message }, 'control write failed'); };
      const type = ingestTypeOf(role);
      const header = (name: string) => firstHeader(req.headers, name);
      const session: Session = {
        id, role, remoteIp,
        externalIp: role === 'hls' ? remoteIp : externalIpOf(header('x-external-ip'), remoteIp),
        port: role === 'hls' ? 0 : portOf(header('x-custom-port'), type),
        ssl: role !== 'hls' && header('x-ssl-use') === 'true',
        channels: new Set(),
        connectedAt: Date.now(),
        alive: true,
        send: (text) => {
          // Messages to one peer within one event-loop turn leave in one write (an encoder gets many ENCODE-STARTs at once under load).
          if (!corked) {
            corked = true;
            raw.cork();
            setImmediate(uncork);
          }
          ws.send(text, onWritten);
        },
      };
      plane.add(session);
      if (role !== 'hls') link?.ingestOpened({ id, ip: session.externalIp, port: session.port, ssl: session.ssl, serverType: type });
      log.info({ session: id, role, ip: remoteIp }, 'control session open');
      const heartbeat = setInterval(() => plane.send(session, 'HEARTBEAT'), options.heartbeatIntervalMs);
      let inactivity = setTimeout(() => ws.terminate(), options.inactivityTimeoutMs);
      ws.on('message', (data: RawData, isBinary: boolean) => {
        clearTimeout(inactivity);
        inactivity = setTimeout(() => {
          log.warn({ session: id, role }, 'control session silent for too long; closing');
          ws.terminate();
        }, options.inactivityTimeoutMs);
        if (!isBinary) handle(session, data.toString());
      });
      ws.on('error', (err) => log.debug({ session: id, err: err.message }, 'control socket error'));
      ws.on('close', () => {
        clearInterval(heartbeat);
        clearTimeout(inactivity);
        log.info({ session: id, role }, 'control session closed');
        if (role !== 'hls') link?.ingestClosed(id);
        void plane.lost(session).catch((err: unknown) => log.error({ err }, 'session clean-up failed'));
      });
    }

    async function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
      const role = ROLE_PATHS[req.url ?? '']!;
      const id = link ? link.sessionId(++nextSessionId) : ++nextSessionId;
      if (!accepting) return refuseUpgrade(socket, 503, 'Service Unavailable', 'Shutting down.');
      if (!options.controlSecret) {
        if (!options.allowUnauthenticatedControl) {
          log.warn({ role }, 'control connection refused: CONTROL_SECRET is not set');
          return refuseUpgrade(socket, 403, 'Forbidden', 'Invalid authentication token.');
        }
      } else {
        const verdict = await verifyControlToken(firstHeader(req.headers, 'x-control-auth-token'), secret, role);
        if (!verdict.ok) {
          log.warn({ role, ip: req.socket.remoteAddress, reason: verdict.reason }, 'control connection refused');
          return refuseUpgrade(socket, 403, 'Forbidden', 'Invalid authentication token.');
        }
      }
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => startSession(ws, role, req, id));
    }

    for (const path of Object.keys(ROLE_PATHS)) {
      http.upgrade(path, (req, socket, head) => void onUpgrade(req, socket, head).catch((err: unknown) => {
        log.error({ err }, 'control upgrade failed');
        socket.destroy();
      }), PLUGIN_NAME);
      // A control path without an upgrade answers as the original: the token first, then the handshake's error.
      http.route('*', path, async (req, res) => {
        req.resume();
        const text = (status: number, body: string): void => { res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body); };
        if (!options.controlSecret && !options.allowUnauthenticatedControl) return text(403, 'Invalid authentication token.');
        if (options.controlSecret && !(await verifyControlToken(firstHeader(req.headers, 'x-control-auth-token'), secret, ROLE_PATHS[path]!)).ok) return text(403, 'Invalid authentication token.');
        if (req.method !== 'GET') return text(405, 'Method Not Allowed');
        return text(400, "Bad Request\nwebsocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header");
      }, PLUGIN_NAME);
    }
    // The streaming original's own paths never reach another plugin (the acomm ingress answers every other path).
    http.prefixRoute('*', '/ws/', (req, res) => { req.resume(); notFound(res); }, PLUGIN_NAME);
    http.prefixRoute('*', '/commands/', (req, res) => { req.resume(); notFound(res); }, PLUGIN_NAME);

    // ------------------------------------------------------ HTTP routes

    // One credential for every operator API: config.commandsApi, COMMANDS_API_AUTH* over it.
    const commandsAuth = resolveCommandsAuth(api.config.commandsApi, runtime.env);

    function command(method: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
      return (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (options.logRequests) log.info({ method: req.method, url: req.url, ip: req.socket.remoteAddress }, 'commands request');
        if (req.method !== method) return notFound(res);
        if (!authorize(req.headers.authorization, commandsAuth)) return unauthorized(res);
        req.resume();
        handler(req, res);
      };
    }

    const banner = (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : BANNER);
    };
    http.route('GET', '/', banner, PLUGIN_NAME);
    http.route('HEAD', '/', banner, PLUGIN_NAME);
    // On a cluster (nats engine) both answer for every coordinator, from any of them.
    const answerFromCluster = <T>(res: http.ServerResponse, local: () => T, shared: (l: ClusterLink) => Promise<T>): void => {
      if (!link) return json(res, local());
      void shared(link).then((body) => json(res, body), (err: unknown) => {
        log.warn({ err: (err as Error).message }, 'cluster state unavailable for the commands API; answering for this node');
        json(res, local());
      });
    };
    http.route('*', '/commands/capacity', command('GET', (_req, res) => answerFromCluster(res, () => plane.encoders.totals(), (l) => l.capacity())), PLUGIN_NAME);
    http.route('*', '/commands/report', command('GET', (_req, res) => answerFromCluster(res, () => plane.report(), (l) => l.report())), PLUGIN_NAME);
    http.route('*', '/commands/close', command('POST', (req, res) => {
      const header = (name: string) => firstHeader(req.headers, name) ?? '';
      const channel = header('x-streaming-channel');
      const streamId = header('x-streaming-id');
      // SUCCESS either way, as the original; a channel held by another coordinator is closed there.
      const done = (plane.kill(channel, streamId) || !link) ? Promise.resolve() : link.killRemote(channel, streamId);
      void done.finally(() => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('SUCCESS'));
    }), PLUGIN_NAME);
    http.route('*', '/commands/encoder-drain', command('POST', (req, res) => {
      const id = Number(req.headers['x-encoder-id']);
      const draining = String(req.headers['x-drain'] ?? 'true').toLowerCase() !== 'false';
      const found = Number.isInteger(id) && plane.encoders.setDraining(id, draining);
      if (found) link?.encoderChanged(id);
      res.writeHead(found ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(found ? 'SUCCESS' : 'Not found.');
    }), PLUGIN_NAME);

    api.provide(STREAMING_SERVICE, {
      capacity: () => plane.encoders.totals(),
      report: () => plane.report(),
      details: () => plane.details(),
      closeStream: (channel, streamId) => plane.kill(channel, streamId),
      drainEncoder: (id, draining) => {
        const found = plane.encoders.setDraining(id, draining);
        if (found) link?.encoderChanged(id);
        return found;
      },
      sessionCounts: () => {
        const counts: Record<ControlRole, number> = { rtmp: 0, wss: 0, hls: 0 };
        for (const s of plane.sessions.values()) counts[s.role] += 1;
        return counts;
      },
    });

    api.onReady(() => {
      link = ClusterLink.connect(runtime, plane, log, (channel, streamId) => runtime.emit(makeEvent(STREAM_CLOSED, { channel, streamId })), () => {
        // Declared dead by the others: stop acting; peers re-dial a live coordinator.
        log.error('this coordinator was declared dead by the cluster: closing every control session');
        accepting = false;
        for (const client of wss.clients) client.close(1012, 'coordinator fenced');
      });
    });
    api.onStart(() => {
      if (!options.controlSecret) {
        log.warn(options.allowUnauthenticatedControl
          ? 'CONTROL_SECRET is not set and allowUnauthenticatedControl is on: ANY peer can control streams (development only)'
          : 'CONTROL_SECRET is not set: control channels are CLOSED (every ingest server and encoder is refused). Set CONTROL_SECRET to enable streaming.');
      }
      logCommandsAuthProblem(log, commandsAuth, 'the commands API is');
    });
    // Tell peers we are going: close control sockets so they re-dial another instance.
    api.onDrain(() => {
      accepting = false;
      for (const wake of capacityWaiters.splice(0)) wake();
    });
    api.onStop(async () => {
      for (const client of wss.clients) client.close(1001, 'coordinator stopping');
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => { for (const c of wss.clients) c.terminate(); resolve(); }, 2000);
        const check = () => { if (wss.clients.size === 0) { clearTimeout(deadline); resolve(); } else setTimeout(check, 20); };
        check();
      });
      wss.close();
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'streaming.control': StreamingService;
  }
}
