// The coordinator's HTTP server, shared by the plugins that serve HTTP (acomm
// ingress, stream proxy, streaming control channels, commands API, health).
// Routes match the raw request target as a string (path plus query, as the
// original servers did), by method then any method; prefix routes serve
// families like /stream/<token>; one plugin may own the fallback.

import * as http from 'node:http';
import * as https from 'node:https';
import { readFileSync, statSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { intVar } from '../shared/env.js';
import { connectionShare, openFileLimit } from '../../core/limits.js';

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
  /** The bound HTTPS address, when TLS is configured. */
  tlsAddress(): { host: string; port: number } | undefined;
  /** Base URL of this server as peers reach it (publicBaseUrl option or derived). */
  baseUrl(): string;
  readonly server: http.Server;
  /** Handle a request as the server would (routes, fallback, errors): for in-process injection. */
  readonly dispatch: (req: http.IncomingMessage, res: http.ServerResponse) => void;
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
  /** Most connections open at once (each listener); more are closed at accept. Default: 40 % of the process's open-files limit. */
  maxConnections?: number;
  /** false: bind no port; requests reach the routes only through `inject` (tests, the testing kit). */
  listen: boolean;
  /** HTTPS listener serving the same routes; SSL_PORT, SSL_CERT, SSL_KEY, SSL_CHECK_RELOAD_SECONDS override. */
  tls?: {
    /** Default 443. */
    port?: number;
    certFile: string;
    keyFile: string;
    /** The files are checked this often and reloaded without a restart when they change, ms. Default 60000. */
    checkReloadMs?: number;
    /** Mutual TLS: only clients with a certificate signed by this CA (PEM file) may connect over HTTPS. */
    clientCaFile?: string;
  };
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: { description: "Port; default: externalPort. 0 picks a free port.", type: 'integer', minimum: 0, maximum: 65535 },
    host: { description: "Bind address; default: bindAddress.", type: 'string', minLength: 1 },
    publicBaseUrl: { description: "How peers reach this server, used in the URLs it hands out (stream and /proxy URLs). Default http://<host>:<port>, localhost for wildcard binds.", type: 'string', pattern: '^https?://' },
    headersTimeoutMs: { description: "Time to receive a request's headers, ms (past it: 408, connection closed).", type: 'integer', minimum: 1, default: 10_000 },
    requestTimeoutMs: { description: "Time to receive a whole request, ms.", type: 'integer', minimum: 1, default: 30_000 },
    keepAliveTimeoutMs: { description: "Idle keep-alive connections are closed after this, ms.", type: 'integer', minimum: 1, default: 5_000 },
    closeGraceMs: { description: "At stop, open connections are closed after this much time, ms.", type: 'integer', minimum: 0, default: 5_000 },
    maxConnections: { description: "Most connections open at once on each listener; more are closed at accept. Default: 40 % of the process's open-files limit.", type: 'integer', minimum: 1, maximum: 1_000_000 },
    listen: { description: 'false: bind no port; requests reach the routes only through inject (tests, the testing kit).', type: 'boolean', default: true },
    tls: { description: "An HTTPS listener serving the same routes; it runs when certFile and keyFile are both set.", 
      type: 'object',
      additionalProperties: false,
      required: ['certFile', 'keyFile'],
      properties: {
        port: { description: "HTTPS port.", env: "SSL_PORT", type: 'integer', minimum: 0, maximum: 65535, default: 443 },
        certFile: { description: "PEM certificate file.", env: "SSL_CERT", type: 'string', minLength: 1 },
        keyFile: { description: "PEM private key file.", env: "SSL_KEY", type: 'string', minLength: 1 },
        checkReloadMs: { description: "The files are checked this often and reloaded without a restart when they change, ms.", env: "SSL_CHECK_RELOAD_SECONDS (seconds)", type: 'integer', minimum: 10, default: 60_000 },
        clientCaFile: { description: "Mutual TLS: only clients with a certificate signed by this CA (PEM file) may connect over HTTPS.", type: 'string', minLength: 1 },
      },
    },
  },
};

interface TlsSettings { port: number; certFile: string; keyFile: string; checkReloadMs: number; clientCaFile: string | undefined }

/** SSL_* from the environment override the tls option; TLS runs only when both files are named. */
function tlsSettings(options: HttpServerOptions, env: Record<string, string | undefined>): TlsSettings | undefined {
  const certFile = env.SSL_CERT || options.tls?.certFile;
  const keyFile = env.SSL_KEY || options.tls?.keyFile;
  if (!certFile || !keyFile) return undefined;
  const seconds = intVar(env, 'SSL_CHECK_RELOAD_SECONDS');
  return {
    certFile,
    keyFile,
    port: intVar(env, 'SSL_PORT') ?? options.tls?.port ?? 443,
    checkReloadMs: seconds !== undefined && seconds > 0 ? seconds * 1000 : options.tls?.checkReloadMs ?? 60_000,
    clientCaFile: options.tls?.clientCaFile,
  };
}

function mtimes(files: string[]): string {
  return files.map((f) => { try { return String(statSync(f).mtimeMs); } catch { return 'missing'; } }).join('|');
}

/** Answer an upgrade request with a plain HTTP error instead of switching protocols. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

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

    // Node checks the header and request deadlines every connectionsCheckingInterval
    // (30 s by default), which let slow headers live three times the documented limit.
    const timeouts = {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(options.headersTimeoutMs / 4))),
    };
    const maxConnections = options.maxConnections ?? connectionShare(0.4, 4096);
    const server = http.createServer(timeouts);
    server.maxConnections = maxConnections;

    function find(req: http.IncomingMessage): RouteHandler | undefined {
      const target = req.url ?? '/';
      const method = req.method ?? 'GET';
      const route = exact.get(`${method} ${target}`) ?? exact.get(`* ${target}`);
      if (route) return route.handler;
      for (const p of prefixes) if ((p.method === '*' || p.method === method) && target.startsWith(p.prefix)) return p.handler;
      return fallbackRoute?.handler;
    }

    const handlerFailed = (req: http.IncomingMessage, res: http.ServerResponse, err: unknown) => {
      log.error({ err, url: req.url, method: req.method }, 'HTTP handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal error.');
      else res.destroy();
    };

    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const handler = find(req);
      if (!handler) {
        notFound(res);
        return;
      }
      // Called at once (no promise hop per request); a throw or a rejection is answered 500.
      let result: void | Promise<void>;
      try {
        result = handler(req, res);
      } catch (err) {
        handlerFailed(req, res, err);
        return;
      }
      if (result && typeof result.then === 'function') result.then(undefined, (err: unknown) => handlerFailed(req, res, err));
    };

    const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const route = upgrades.get(req.url ?? '');
      if (!route) {
        refuseUpgrade(socket, 404, 'Not Found', 'Not found.');
        return;
      }
      try {
        route.handler(req, socket, head);
      } catch (err) {
        log.error({ err, url: req.url }, 'upgrade handler failed');
        socket.destroy();
      }
    };
    // A malformed or too slow request: answer, then close the connection for
    // good (a peer that keeps sending must not keep it half-open).
    const onClientError = (err: NodeJS.ErrnoException, socket: Duplex) => {
      log.debug({ err: err.message, code: err.code }, 'HTTP client error');
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const cut = setTimeout(() => socket.destroy(), 1000);
      cut.unref();
      socket.end(timedOut ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', () => {
        clearTimeout(cut);
        socket.destroy();
      });
    };
    const attach = (target: http.Server) => {
      target.on('request', onRequest);
      target.on('upgrade', onUpgrade);
      target.on('clientError', onClientError);
    };
    attach(server);
    const tls = tlsSettings(options, api.runtime.env);
    let secure: https.Server | undefined;
    let boundTls: { host: string; port: number } | undefined;
    let reloadTimer: NodeJS.Timeout | undefined;
    const readPair = (t: TlsSettings) => ({
      cert: readFileSync(t.certFile),
      key: readFileSync(t.keyFile),
      ...(t.clientCaFile ? { ca: readFileSync(t.clientCaFile), requestCert: true, rejectUnauthorized: true } : {}),
    });

    const service: HttpServerService = {
      server,
      dispatch: onRequest,
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
      tlsAddress: () => boundTls,
      baseUrl() {
        if (options.publicBaseUrl) return options.publicBaseUrl.replace(/\/+$/, '');
        const addr = bound ?? { host: options.host ?? config.bindAddress, port: options.port ?? config.externalPort };
        const wildcard = addr.host === '0.0.0.0' || addr.host === '::';
        const host = wildcard ? 'localhost' : addr.host.includes(':') ? `[${addr.host}]` : addr.host;
        return `http://${host}:${addr.port}`;
      },
    };
    api.provide(HTTP_SERVER_SERVICE, service);
    api.readiness(() => !options.listen || (server.listening && (!tls || secure?.listening === true)));

    // HTTP_PORT and BIND_ADDRESS are core settings (externalPort, bindAddress), folded in with the rest of the environment.
    api.onStart(async () => {
      if (!options.listen) return;
      const host = options.host ?? config.bindAddress;
      const port = options.port ?? config.externalPort;
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
      log.info({ maxConnections, openFileLimit: openFileLimit(), host: bound?.host, port: bound?.port }, 'HTTP server listening');
      if (!tls) return;
      secure = https.createServer({ ...readPair(tls), ...timeouts });
      secure.maxConnections = maxConnections;
      attach(secure);
      await new Promise<void>((resolve, reject) => {
        secure!.once('error', reject);
        secure!.listen(tls.port, host, () => { secure!.off('error', reject); resolve(); });
      });
      const tlsAddress = secure.address();
      if (tlsAddress && typeof tlsAddress === 'object') boundTls = { host: tlsAddress.address, port: tlsAddress.port };
      log.info({ host: boundTls?.host, port: boundTls?.port, cert: tls.certFile, mutualTls: Boolean(tls.clientCaFile) }, 'HTTPS server listening');
      // Certificates are reloaded without a restart; open connections keep theirs.
      const watched = [tls.certFile, tls.keyFile, ...(tls.clientCaFile ? [tls.clientCaFile] : [])];
      let seen = mtimes(watched);
      reloadTimer = setInterval(() => {
        const now = mtimes(watched);
        if (now === seen) return;
        try {
          secure!.setSecureContext(readPair(tls));
          seen = now;
          log.info({ cert: tls.certFile }, 'TLS certificate reloaded');
        } catch (err) {
          log.error({ err: (err as Error).message, cert: tls.certFile }, 'TLS certificate reload failed; keeping the previous one');
        }
      }, tls.checkReloadMs);
      reloadTimer.unref();
    });
    // The listener stays open through the drain: new requests are refused by the
    // runtime (ERR_SHUTTING_DOWN) while /proxy answers and issued streams still
    // flow (the original closed HTTP first and lost them: W20).
    api.onStop(async () => {
      if (reloadTimer) clearInterval(reloadTimer);
      const servers = secure ? [server, secure] : [server];
      await Promise.all(servers.map(async (target) => {
        const closed = new Promise<void>((resolve) => {
          if (!target.listening) resolve();
          else target.close(() => resolve());
        });
        const timer = setTimeout(() => target.closeAllConnections(), options.closeGraceMs);
        target.closeIdleConnections();
        await closed;
        clearTimeout(timer);
      }));
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'http.server': HttpServerService;
  }
}
