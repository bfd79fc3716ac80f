// Control sessions: the authenticated WebSocket upgrade on /ws/control/{rtmp,
// wss,hls}, each session's heartbeat and inactivity timer, corked writes, and
// the dispatch of its messages to the publish flow and the control plane.

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer, RawData } from 'ws';
import type { Logger } from '../../core/logger.js';
import { notFound, refuseUpgrade, type HttpServerService } from '../http-server/index.js';
import { firstHeader } from '../shared/headers.js';
import { peerAddress } from '../shared/localhost.js';
import { parseMessage, arg } from './messages.js';
import type { ControlRole } from './control-auth.js';
import type { ClusterLink } from './cluster-link.js';
import type { PublishFlow } from './publish-flow.js';
import { ControlPlane, externalIpOf, ingestTypeOf, portOf, type Session } from './control-plane.js';

export const ROLE_PATHS: Record<string, ControlRole> = { '/ws/control/rtmp': 'rtmp', '/ws/control/wss': 'wss', '/ws/control/hls': 'hls' };

export interface SessionOptions {
  controlSecret: string;
  allowUnauthenticatedControl: boolean;
  heartbeatIntervalMs: number;
  inactivityTimeoutMs: number;
}

type VerifyToken = (token: string | undefined, secret: Uint8Array, role: ControlRole) => Promise<{ ok: boolean; reason?: string }>;

export class ControlSessions {
  private nextSessionId = 0;
  /** False while draining or fenced: new control connections are refused (503). */
  accepting = true;
  private readonly secret: Uint8Array;

  constructor(
    private readonly wss: WebSocketServer,
    private readonly plane: ControlPlane,
    private readonly publishes: PublishFlow,
    private readonly options: SessionOptions,
    private readonly verifyToken: VerifyToken,
    private readonly link: () => ClusterLink | undefined,
    private readonly log: Logger,
  ) {
    this.secret = new TextEncoder().encode(options.controlSecret);
  }

  /** The upgrade on each control path, and the original's answers on those paths without one. */
  install(http: HttpServerService, pluginName: string): void {
    const { options } = this;
    for (const path of Object.keys(ROLE_PATHS)) {
      http.upgrade(path, (req, socket, head) => void this.onUpgrade(req, socket, head).catch((err: unknown) => {
        this.log.error({ err }, 'control upgrade failed');
        socket.destroy();
      }), pluginName);
      // A control path without an upgrade answers as the original: the token first, then the handshake's error.
      http.route('*', path, async (req, res) => {
        req.resume();
        const text = (status: number, body: string): void => { res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body); };
        if (!options.controlSecret && !options.allowUnauthenticatedControl) return text(403, 'Invalid authentication token.');
        if (options.controlSecret && !(await this.verifyToken(firstHeader(req.headers, 'x-control-auth-token'), this.secret, ROLE_PATHS[path]!)).ok) return text(403, 'Invalid authentication token.');
        if (req.method !== 'GET') return text(405, 'Method Not Allowed');
        return text(400, "Bad Request\nwebsocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header");
      }, pluginName);
    }
    // The streaming original's own paths never reach another plugin (the acomm ingress answers every other path).
    http.prefixRoute('*', '/ws/', (req, res) => { req.resume(); notFound(res); }, pluginName);
  }

  /** Close every control session (peers re-dial another coordinator). */
  closeAll(code: number, reason: string): void {
    for (const client of this.wss.clients) client.close(code, reason);
  }

  private handle(session: Session, text: string): void {
    const { plane, log } = this;
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
        if (ingest) void this.publishes.onPublishRequest(session, message).catch((err: unknown) => log.error({ err }, 'publish flow failed'));
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

  private start(ws: WebSocket, role: ControlRole, req: http.IncomingMessage, id: number): void {
    const { plane, log, options } = this;
    // As Go reports it: IPv4-mapped IPv6 as dotted IPv4.
    const remoteIp = peerAddress(req.socket.remoteAddress ?? '');
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
    if (role !== 'hls') this.link()?.ingestOpened({ id, ip: session.externalIp, port: session.port, ssl: session.ssl, serverType: type });
    log.info({ session: id, role, ip: remoteIp }, 'control session open');
    const heartbeat = setInterval(() => plane.send(session, 'HEARTBEAT'), options.heartbeatIntervalMs);
    // One timer for the session's life, restarted by each message (refresh(): no timer made per message).
    const inactivity = setTimeout(() => {
      log.warn({ session: id, role }, 'control session silent for too long; closing');
      ws.terminate();
    }, options.inactivityTimeoutMs);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      inactivity.refresh();
      if (!isBinary) this.handle(session, data.toString());
    });
    ws.on('error', (err) => log.debug({ session: id, err: err.message }, 'control socket error'));
    ws.on('close', () => {
      clearInterval(heartbeat);
      clearTimeout(inactivity);
      log.info({ session: id, role }, 'control session closed');
      if (role !== 'hls') this.link()?.ingestClosed(id);
      void plane.lost(session).catch((err: unknown) => log.error({ err }, 'session clean-up failed'));
    });
  }

  private async onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { options, log } = this;
    const role = ROLE_PATHS[req.url ?? '']!;
    const link = this.link();
    const id = link ? link.sessionId(++this.nextSessionId) : ++this.nextSessionId;
    if (!this.accepting) return refuseUpgrade(socket, 503, 'Service Unavailable', 'Shutting down.');
    if (!options.controlSecret) {
      if (!options.allowUnauthenticatedControl) {
        log.warn({ role }, 'control connection refused: CONTROL_SECRET is not set');
        return refuseUpgrade(socket, 403, 'Forbidden', 'Invalid authentication token.');
      }
    } else {
      const verdict = await this.verifyToken(firstHeader(req.headers, 'x-control-auth-token'), this.secret, role);
      if (!verdict.ok) {
        log.warn({ role, ip: req.socket.remoteAddress, reason: verdict.reason }, 'control connection refused');
        return refuseUpgrade(socket, 403, 'Forbidden', 'Invalid authentication token.');
      }
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.start(ws, role, req, id));
  }
}
