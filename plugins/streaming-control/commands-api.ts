// The commands API the application calls (/commands/capacity, report, close,
// encoder-drain) and the banner on `/`, behind the one commands credential.
// On a cluster (nats engine) capacity and report answer for every
// coordinator, and close reaches the coordinator holding the publisher.

import type http from 'node:http';
import type { Logger } from '../../core/logger.js';
import { notFound, type HttpServerService } from '../http-server/index.js';
import { firstHeader } from '../shared/headers.js';
import { authorize, json, unauthorized, type CommandsAuth } from '../shared/commands-auth.js';
import type { ClusterLink } from './cluster-link.js';
import type { ControlPlane } from './control-plane.js';

const BANNER = 'Coordinator streaming server - Version 1.0.0';

export interface CommandsApiDeps {
  http: HttpServerService;
  plane: ControlPlane;
  auth: CommandsAuth;
  link: () => ClusterLink | undefined;
  log: Logger;
  /** Log every commands API request (LOG_REQUESTS). */
  logRequests: boolean;
  /** Drain or undrain an encoder (shared with the service, so a cluster hears of it). */
  drainEncoder(id: number, draining: boolean): boolean;
}

export function installCommandsApi(deps: CommandsApiDeps, pluginName: string): void {
  const { http, plane, auth, log } = deps;

  function command(method: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
    return (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (deps.logRequests) log.info({ method: req.method, url: req.url, ip: req.socket.remoteAddress }, 'commands request');
      if (req.method !== method) return notFound(res);
      if (!authorize(req.headers.authorization, auth)) return unauthorized(res);
      req.resume();
      handler(req, res);
    };
  }

  const banner = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : BANNER);
  };
  http.route('GET', '/', banner, pluginName);
  http.route('HEAD', '/', banner, pluginName);
  http.prefixRoute('*', '/commands/', (req, res) => { req.resume(); notFound(res); }, pluginName);

  // On a cluster (nats engine) both answer for every coordinator, from any of them.
  const answerFromCluster = <T>(res: http.ServerResponse, local: () => T, shared: (l: ClusterLink) => Promise<T>): void => {
    const link = deps.link();
    if (!link) return json(res, local());
    void shared(link).then((body) => json(res, body), (err: unknown) => {
      log.warn({ err: (err as Error).message }, 'cluster state unavailable for the commands API; answering for this node');
      json(res, local());
    });
  };
  http.route('*', '/commands/capacity', command('GET', (_req, res) => answerFromCluster(res, () => plane.encoders.totals(), (l) => l.capacity())), pluginName);
  http.route('*', '/commands/report', command('GET', (_req, res) => answerFromCluster(res, () => plane.report(), (l) => l.report())), pluginName);
  http.route('*', '/commands/close', command('POST', (req, res) => {
    const header = (name: string) => firstHeader(req.headers, name) ?? '';
    const channel = header('x-streaming-channel');
    const streamId = header('x-streaming-id');
    const link = deps.link();
    // SUCCESS either way, as the original; a channel held by another coordinator is closed there.
    const done = (plane.kill(channel, streamId) || !link) ? Promise.resolve() : link.killRemote(channel, streamId);
    void done.finally(() => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('SUCCESS'));
  }), pluginName);
  http.route('*', '/commands/encoder-drain', command('POST', (req, res) => {
    const id = Number(req.headers['x-encoder-id']);
    const draining = String(req.headers['x-drain'] ?? 'true').toLowerCase() !== 'false';
    const found = Number.isInteger(id) && deps.drainEncoder(id, draining);
    res.writeHead(found ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(found ? 'SUCCESS' : 'Not found.');
  }), pluginName);
}
