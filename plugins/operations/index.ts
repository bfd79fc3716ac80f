// Operations: what the people who run the coordinator look at.
//   GET /healthz            alive (200 while the process serves)
//   GET /readyz             200 when started and every plugin is ready, else 503
//   GET /metrics            Prometheus text format
//   GET /status             live state as JSON (commands API auth)
//   GET /dashboard          live page (commands API auth, or a session cookie after login)
//   GET /dashboard/events   server-sent events: a state snapshot every second

import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { definePlugin } from '../../core/plugin.js';
import { HTTP_SERVER_SERVICE, notFound, type HttpServerService } from '../http-server/index.js';
import { authorize, commandsAuthCheck, logCommandsAuthProblem, resolveCommandsAuth, unauthorized } from '../shared/commands-auth.js';
import { collectSnapshot } from './snapshot.js';
import { DASHBOARD_HTML, LOGIN_HTML } from './dashboard-page.js';

export const PLUGIN_NAME = 'operations';

export interface OperationsOptions {
  /** Include process metrics (CPU, memory, event loop lag, GC). */
  processMetrics: boolean;
  /** Require the commands API authorization for /metrics too. */
  protectMetrics: boolean;
  /** Dashboard refresh interval, ms. */
  dashboardIntervalMs: number;
  /** Dashboard login sessions last this long, ms. */
  sessionTtlMs: number;
  /** Most dashboard login sessions alive at once; the oldest is dropped first. */
  maxSessions: number;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    processMetrics: { description: "Include process metrics (CPU, memory, event loop lag, GC) in /metrics.", type: 'boolean', default: true },
    protectMetrics: { description: "Require the commands API credential for /metrics too.", type: 'boolean', default: false },
    dashboardIntervalMs: { description: "Dashboard refresh interval, ms.", type: 'integer', minimum: 100, maximum: 60_000, default: 1000 },
    sessionTtlMs: { description: "Dashboard login sessions last this long, ms.", type: 'integer', minimum: 1000, default: 8 * 3_600_000 },
    maxSessions: { description: "Most dashboard login sessions alive at once; the oldest is dropped first.", type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
  },
};

const COOKIE = 'coordinator_session';

export const operations = definePlugin<OperationsOptions>({
  name: PLUGIN_NAME,
  dependencies: ['http-server'],
  optionsSchema,
  check: (_options, { config, env }) => commandsAuthCheck(config.commandsApi, env),
  async apply(api, options) {
    // prom-client is loaded only when the plugin is configured.
    const [{ Gauge }, { createMetrics }] = await Promise.all([import('prom-client'), import('./metrics.js')]);
    const { runtime, log } = api;
    const http = api.service(HTTP_SERVER_SERVICE);
    // The same credential as the commands API: config.commandsApi, COMMANDS_API_AUTH* over it.
    const auth = resolveCommandsAuth(api.config.commandsApi, runtime.env);
    const registry = createMetrics(runtime, options.processMetrics);
    // Login sessions: bounded (oldest dropped first), expired on every tick
    // whether or not a page is open, ended by sign-out.
    const sessions = new Map<string, number>();
    const startedAt = Date.now();
    new Gauge({ name: 'coordinator_dashboard_sessions', help: 'Dashboard login sessions alive', registers: [registry], collect() { this.set(sessions.size); } });
    const streams = new Set<http.ServerResponse>();
    let ticker: NodeJS.Timeout | undefined;

    function sessionId(req: http.IncomingMessage): string | undefined {
      const cookie = req.headers.cookie ?? '';
      const match = new RegExp(`(?:^|;\\s*)${COOKIE}=([A-Za-z0-9_-]{1,64})(?:;|$)`).exec(cookie);
      return match?.[1];
    }

    function sessionOf(req: http.IncomingMessage): boolean {
      const id = sessionId(req);
      const expires = id ? sessions.get(id) : undefined;
      return expires !== undefined && expires > Date.now();
    }

    function cookieAttributes(req: http.IncomingMessage): string {
      const secure = (req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
      return `HttpOnly; SameSite=Strict; Path=/dashboard${secure}`;
    }

    function newSession(req: http.IncomingMessage, res: http.ServerResponse): void {
      const now = Date.now();
      for (const [old, expires] of sessions) {
        if (sessions.size < options.maxSessions && expires > now) break;
        sessions.delete(old);
      }
      const id = randomBytes(24).toString('base64url');
      sessions.set(id, now + options.sessionTtlMs);
      res.setHeader('set-cookie', `${COOKIE}=${id}; ${cookieAttributes(req)}; Max-Age=${Math.floor(options.sessionTtlMs / 1000)}`);
    }

    function pruneSessions(): void {
      const now = Date.now();
      // Insertion order is expiry order (one TTL for all): stop at the first live one.
      for (const [id, expires] of sessions) {
        if (expires > now) break;
        sessions.delete(id);
      }
    }

    const allowed = (req: http.IncomingMessage) => authorize(req.headers.authorization, auth) || sessionOf(req);
    const get = (handler: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>) =>
      (req: http.IncomingMessage, res: http.ServerResponse) => (req.method === 'GET' || req.method === 'HEAD' ? handler(req, res) : notFound(res));
    const sendJson = (res: http.ServerResponse, status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(body));
    };

    http.route('*', '/healthz', get((_req, res) => sendJson(res, 200, { status: 'alive', uptimeSec: Math.round((Date.now() - startedAt) / 1000) })), PLUGIN_NAME);
    http.route('*', '/readyz', get((_req, res) => {
      const readiness = runtime.readiness();
      sendJson(res, readiness.ready ? 200 : 503, { status: readiness.ready ? 'ready' : 'not ready', runtime: readiness.status, checks: readiness.checks });
    }), PLUGIN_NAME);
    http.route('*', '/metrics', get(async (req, res) => {
      if (options.protectMetrics && !authorize(req.headers.authorization, auth)) return unauthorized(res);
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    }), PLUGIN_NAME);
    http.route('*', '/status', get(async (req, res) => {
      if (!authorize(req.headers.authorization, auth)) return unauthorized(res);
      sendJson(res, 200, await collectSnapshot(runtime, startedAt));
    }), PLUGIN_NAME);

    http.route('*', '/dashboard', get((req, res) => {
      const hasSession = sessionOf(req);
      if (!hasSession && authorize(req.headers.authorization, auth)) newSession(req, res);
      else if (!hasSession) {
        const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
        if (auth.mode === 'basic') headers['www-authenticate'] = 'Basic realm="coordinator dashboard"';
        res.writeHead(401, headers).end(LOGIN_HTML);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" }).end(DASHBOARD_HTML);
    }), PLUGIN_NAME);
    http.route('POST', '/dashboard/login', async (req, res) => {
      let body = '';
      for await (const chunk of req) {
        body += String(chunk);
        if (body.length > 4096) {
          res.writeHead(413).end();
          return;
        }
      }
      const credential = new URLSearchParams(body).get('authorization') ?? '';
      if (!authorize(credential, auth)) {
        log.warn({ ip: req.socket.remoteAddress }, 'dashboard login refused');
        res.writeHead(303, { location: '/dashboard?failed=1' }).end();
        return;
      }
      newSession(req, res);
      res.writeHead(303, { location: '/dashboard' }).end();
    }, PLUGIN_NAME);
    // Sign-out: the session ends here and now (SameSite=Strict keeps other sites from posting this).
    http.route('POST', '/dashboard/logout', (req, res) => {
      req.resume();
      const id = sessionId(req);
      if (id) sessions.delete(id);
      res.writeHead(303, { location: '/dashboard', 'set-cookie': `${COOKIE}=; ${cookieAttributes(req)}; Max-Age=0` }).end();
    }, PLUGIN_NAME);
    http.route('*', '/dashboard/events', get(async (req, res) => {
      if (!allowed(req)) return unauthorized(res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      streams.add(res);
      req.on('close', () => streams.delete(res));
      res.write(`data: ${JSON.stringify(await collectSnapshot(runtime, startedAt))}\n\n`);
    }), PLUGIN_NAME);

    api.onStart(() => {
      logCommandsAuthProblem(log, auth, '/status and /dashboard are');
      ticker = setInterval(() => {
        pruneSessions();
        if (streams.size === 0) return;
        void collectSnapshot(runtime, startedAt).then((snapshot) => {
          const frame = `data: ${JSON.stringify(snapshot)}\n\n`;
          for (const res of streams) res.write(frame);
        }).catch((err: unknown) => log.warn({ err }, 'dashboard snapshot failed'));
      }, options.dashboardIntervalMs);
      ticker.unref();
    });
    api.onDrain(() => {
      if (ticker) clearInterval(ticker);
      for (const res of streams) res.end();
      streams.clear();
    });
  },
});
