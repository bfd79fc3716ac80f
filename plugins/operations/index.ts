// Operations: what the people who run the coordinator look at.
//   GET /healthz              alive (200 while the process serves)
//   GET /readyz               200 when started and every plugin is ready, else 503
//   GET /metrics              Prometheus text format
//   GET /status               live state as JSON (commands API auth)
//   GET /dashboard            the operator's console (commands API auth, or a session cookie after login)
//   GET /dashboard/events     server-sent events: `history` once, a `sample` per history tick, the tables' state every dashboardIntervalMs
//   POST /dashboard/actions/* close a stream, drain an encoder, retry dead letters (session + CSRF token; audited)
//   GET /dashboard/assets/*   the console's script and styles, uPlot

import type http from 'node:http';
import { definePlugin } from '../../core/plugin.js';
import { HTTP_SERVER_SERVICE, notFound, type HttpServerService } from '../http-server/index.js';
import { actorOf, authorize, commandsAuthCheck, logCommandsAuthProblem, resolveCommandsAuth, unauthorized } from '../shared/commands-auth.js';
import type { RequestTelemetry } from '../../core/runtime.js';
import { collectSnapshot } from './snapshot.js';
import { CONSOLE_CSP, LOGIN_HTML, consoleHtml } from './dashboard-page.js';
import { SessionStore } from './sessions.js';
import { History, type Gauges } from './history.js';
import { RecentErrors } from './recent-errors.js';
import { AuditLog } from './audit.js';
import { collectConsoleState } from './console-state.js';
import { actionHandler } from './console-actions.js';
import { ASSET_PATHS, loadAssets, serveAsset, type Asset } from './console-assets.js';

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
  /** The console's history: one point per this many ms. */
  historyIntervalMs: number;
  /** Points kept per chart (with historyIntervalMs: the window; default one hour). */
  historyPoints: number;
  /** Failed requests kept for the console's "recent errors". */
  recentErrors: number;
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
    historyIntervalMs: { description: "The console's history: one point per this many ms.", type: 'integer', minimum: 100, maximum: 3_600_000, default: 2000 },
    historyPoints: { description: "Points kept per chart of the console (in memory; 1,800 × 2 s is one hour, about 120 KB).", type: 'integer', minimum: 10, maximum: 20_000, default: 1800 },
    recentErrors: { description: "Failed requests kept for the console's recent-errors table.", type: 'integer', minimum: 1, maximum: 10_000, default: 200 },
  },
};

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
    // whether or not a page is open, ended by sign-out; each carries its CSRF token.
    const sessions = new SessionStore(options.sessionTtlMs, options.maxSessions);
    const startedAt = Date.now();
    new Gauge({ name: 'coordinator_dashboard_sessions', help: 'Dashboard login sessions alive', registers: [registry], collect() { this.set(sessions.size); } });
    const streams = new Set<http.ServerResponse>();
    let ticker: NodeJS.Timeout | undefined;
    let historyTicker: NodeJS.Timeout | undefined;

    // The console's memory: history of the charts, recent errors, audit log (all bounded).
    const history = new History(options.historyIntervalMs, options.historyPoints);
    const recentErrors = new RecentErrors(options.recentErrors);
    const audit = new AuditLog(log);
    runtime.telemetry.on('request', (e: RequestTelemetry) => {
      history.request(e);
      recentErrors.note(e);
    });
    runtime.telemetry.on('publish', (e: { accepted: boolean; reason: string }) => history.publish(e));
    const gauges = (): Gauges => {
      const outbox = runtime.optionalService('event-callbacks')?.stats();
      const capacity = runtime.optionalService('streaming.control')?.capacity();
      return {
        outboxDepth: outbox?.depth ?? 0,
        outboxOldestSec: (outbox?.oldestAgeMs ?? 0) / 1000,
        deadLetters: outbox?.deadLetters ?? 0,
        deliveredTotal: outbox?.delivered ?? 0,
        retriesTotal: outbox?.retries ?? 0,
        proxyBytesTotal: runtime.optionalService('stream.proxy')?.bytes ?? 0,
        encoderLoad: capacity?.load ?? 0,
        encoderCapacity: capacity?.capacity ?? 0,
        inFlight: runtime.inFlight,
      };
    };
    let assets = new Map<string, Asset>();
    const act = actionHandler(runtime, sessions, audit);

    const consoleState = () => collectConsoleState(runtime, startedAt, recentErrors.list(), audit.list());
    const broadcast = (frame: string): void => {
      for (const res of streams) res.write(frame);
    };
    const allowed = (req: http.IncomingMessage) => authorize(req.headers.authorization, auth) || sessions.of(req) !== undefined;
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
      let session = sessions.of(req);
      const header = req.headers.authorization;
      if (!session && header !== undefined && authorize(header, auth)) session = sessions.create(req, res, actorOf(header, auth));
      if (!session) {
        const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
        if (auth.mode === 'basic') headers['www-authenticate'] = 'Basic realm="coordinator dashboard"';
        res.writeHead(401, headers).end(LOGIN_HTML);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CONSOLE_CSP,
        'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff',
      }).end(consoleHtml(session.csrf, session.actor));
    }), PLUGIN_NAME);
    for (const asset of ASSET_PATHS) http.route('*', asset, get((req, res) => serveAsset(assets.get(asset), req, res)), PLUGIN_NAME);
    http.prefixRoute('*', '/dashboard/actions/', (req, res) => {
      if (req.method !== 'POST') {
        req.resume();
        return notFound(res);
      }
      return act(req, res, (req.url ?? '').slice('/dashboard/actions/'.length).split('?')[0]!);
    }, PLUGIN_NAME);
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
      const session = sessions.create(req, res, actorOf(credential, auth));
      log.info({ actor: session.actor, ip: session.ip }, 'console sign-in');
      res.writeHead(303, { location: '/dashboard' }).end();
    }, PLUGIN_NAME);
    // Sign-out: the session ends here and now (SameSite=Strict keeps other sites from posting this).
    http.route('POST', '/dashboard/logout', (req, res) => {
      req.resume();
      res.writeHead(303, { location: '/dashboard', 'set-cookie': sessions.end(req) }).end();
    }, PLUGIN_NAME);
    http.route('*', '/dashboard/events', get(async (req, res) => {
      if (!allowed(req)) return unauthorized(res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      streams.add(res);
      req.on('close', () => streams.delete(res));
      res.write(`event: history\ndata: ${JSON.stringify(history.toJSON())}\n\n`);
      res.write(`data: ${JSON.stringify(await consoleState())}\n\n`);
    }), PLUGIN_NAME);

    api.onStart(async () => {
      logCommandsAuthProblem(log, auth, '/status and /dashboard are');
      assets = await loadAssets();
      ticker = setInterval(() => {
        sessions.prune();
        if (streams.size === 0) return;
        void consoleState().then((state) => broadcast(`data: ${JSON.stringify(state)}\n\n`))
          .catch((err: unknown) => log.warn({ err }, 'dashboard snapshot failed'));
      }, options.dashboardIntervalMs);
      ticker.unref();
      // The history is kept whether or not a page is open: the charts are full when one opens.
      historyTicker = setInterval(() => {
        const sample = history.sample(gauges());
        if (streams.size > 0) broadcast(`event: sample\ndata: ${JSON.stringify(sample)}\n\n`);
      }, options.historyIntervalMs);
      historyTicker.unref();
    });
    api.onDrain(() => {
      if (ticker) clearInterval(ticker);
      if (historyTicker) clearInterval(historyTicker);
      for (const res of streams) res.end();
      streams.clear();
    });
  },
});
