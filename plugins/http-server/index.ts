// The coordinator's HTTP server, shared by the plugins that serve HTTP (acomm
// ingress, stream proxy, streaming control channels, commands API, health).
// Routes match the raw request target as a string (path plus query, as the
// original servers did), by method then any method; prefix routes serve
// families like /stream/<token>; one plugin may own the fallback.

import http from 'node:http';
import type { Duplex } from 'node:stream';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { intVar } from '../shared/env.js';

export const PLUGIN_NAME = 'http-server';
export const HTTP_SERVER_SERVICE = 'http.server';

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpServerService {
  /** Exact raw target (e.g. '/', '/proxy'); method '*' for any. */
  route(method: string, target: string, handler: RouteHandler, owner: string): void;
  /** Every target starting with `prefix` (e.g. '/stream/'); method '*' for any. */
  prefixRoute(method: string, prefix: string, handler: RouteHandler, owner: string): void;
  /** Handler for targets no route matches (one owner only). Default: 404 "Not found.". */
  fallback(handler: RouteHandler, owner: string): void;
  /** WebSocket (or other) upgrades on an exact target. */
  upgrade(target: string, handler: UpgradeHandler, owner: string): void;
  /** The bound address, once started. */
  address(): { host: string; port: number } | undefined;
  /** Base URL of this server as peers reach it (publicBaseUrl option or derived). */
  baseUrl(): string;
  readonly server: http.Server;
}

export interface HttpServerOptions {
  /** Port; default: config.externalPort. 0 picks a free port. */
  port?: number;
  /** Bind address; default: config.bindAddress (loopback). */
  host?: string;
  /** How peers reach this server (used in URLs we hand out). Default http://<host>:<port>, localhost for wildcard binds. */
  publicBaseUrl?: string;
  /** Time to receive a request's headers, ms. */
  headersTimeoutMs: number;
  /** Time to receive a whole request, ms. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** Open connections are closed after this much drain time at stop, ms. */
  closeGraceMs: number;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string', minLength: 1 },
    publicBaseUrl: { type: 'string', pattern: '^https?://' },
    headersTimeoutMs: { type: 'integer', minimum: 1, default: 10_000 },
    requestTimeoutMs: { type: 'integer', minimum: 1, default: 30_000 },
    keepAliveTimeoutMs: { type: 'integer', minimum: 1, default: 5_000 },
    closeGraceMs: { type: 'integer', minimum: 0, default: 5_000 },
  },
};

export function notFound(res: http.ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found.');
}

export const httpServer = definePlugin<HttpServerOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  apply(api, options) {
    const { config, log } = api;
    const exact = new Map<string, { handler: RouteHandler; owner: string }>();
    const prefixes: Array<{ method: string; prefix: string; handler: RouteHandler; owner: string }> = [];
    const upgrades = new Map<string, { handler: UpgradeHandler; owner: string }>();
    let fallbackRoute: { handler: RouteHandler; owner: string } | undefined;
    let bound: { host: string; port: number } | undefined;

    const claim = (key: string, owner: string) => {
      const existing = exact.get(key);
      if (existing) throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `route ${key} is served by ${existing.owner}; ${owner} cannot serve it too`);
    };

    const server = http.createServer({ requestTimeout: options.requestTimeoutMs, headersTimeout: options.headersTimeoutMs, keepAliveTimeout: options.keepAliveTimeoutMs });

    function find(req: http.IncomingMessage): RouteHandler | undefined {
      const target = req.url ?? '/';
      const method = req.method ?? 'GET';
      const route = exact.get(`${method} ${target}`) ?? exact.get(`* ${target}`);
      if (route) return route.handler;
      for (const p of prefixes) if ((p.method === '*' || p.method === method) && target.startsWith(p.prefix)) return p.handler;
      return fallbackRoute?.handler;
    }

    server.on('request', (req, res) => {
      const handler = find(req);
      if (!handler) {
        notFound(res);
        return;
      }
      Promise.resolve()
        .then(() => handler(req, res))
        .catch((err: unknown) => {
          log.error({ err, url: req.url, method: req.method }, 'HTTP handler failed');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal error.');
          else res.destroy();
        });
    });

    server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      const route = upgrades.get(req.url ?? '');
      if (!route) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\nConnection: close\r\n\r\nNot found.');
        return;
      }
      try {
        route.handler(req, socket, head);
      } catch (err) {
        log.error({ err, url: req.url }, 'upgrade handler failed');
        socket.destroy();
      }
    });
    server.on('clientError', (err, socket) => {
      if (!socket.writable) return;
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      log.debug({ err: (err as Error).message }, 'HTTP client error');
    });

    const service: HttpServerService = {
      server,
      route(method, target, handler, owner) {
        const key = `${method.toUpperCase()} ${target}`;
        claim(key, owner);
        exact.set(key, { handler, owner });
      },
      prefixRoute(method, prefix, handler, owner) {
        prefixes.push({ method: method.toUpperCase(), prefix, handler, owner });
      },
      fallback(handler, owner) {
        if (fallbackRoute) throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `the HTTP fallback is served by ${fallbackRoute.owner}; ${owner} cannot take it`);
        fallbackRoute = { handler, owner };
      },
      upgrade(target, handler, owner) {
        const existing = upgrades.get(target);
        if (existing) throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `upgrade ${target} is served by ${existing.owner}; ${owner} cannot serve it too`);
        upgrades.set(target, { handler, owner });
      },
      address: () => bound,
      baseUrl() {
        if (options.publicBaseUrl) return options.publicBaseUrl.replace(/\/+$/, '');
        const addr = bound ?? { host: options.host ?? config.bindAddress, port: options.port ?? config.externalPort };
        const wildcard = addr.host === '0.0.0.0' || addr.host === '::';
        const host = wildcard ? 'localhost' : addr.host.includes(':') ? `[${addr.host}]` : addr.host;
        return `http://${host}:${addr.port}`;
      },
    };
    api.provide<HttpServerService>(HTTP_SERVER_SERVICE, service);
    api.readiness(() => server.listening);

    // The streaming coordinator's HTTP_PORT and BIND_ADDRESS override the file (an empty
    // BIND_ADDRESS meant every interface there, and still does).
    const envPort = intVar(api.runtime.env, 'HTTP_PORT');
    const envHost = api.runtime.env.BIND_ADDRESS;
    api.onStart(async () => {
      const host = envHost !== undefined ? envHost || '0.0.0.0' : options.host ?? config.bindAddress;
      const port = envPort ?? options.port ?? config.externalPort;
      if (host === '0.0.0.0' || host === '::') log.warn({ host }, 'HTTP server listens on every interface');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      if (address && typeof address === 'object') bound = { host: address.address, port: address.port };
      log.info({ host: bound?.host, port: bound?.port }, 'HTTP server listening');
    });
    // The listener stays open through the drain: new requests are refused by the
    // runtime (ERR_SHUTTING_DOWN) while /proxy answers and issued streams still
    // flow (the original closed HTTP first and lost them: W20).
    api.onStop(async () => {
      const closed = new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      const timer = setTimeout(() => server.closeAllConnections(), options.closeGraceMs);
      server.closeIdleConnections();
      await closed;
      clearTimeout(timer);
    });
  },
});
