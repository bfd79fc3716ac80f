// HTTP ingress for acomm requests, delivery to http(s) response hooks, and
// federation (taskURL forwarding to another coordinator, answers via /proxy),
// as the original coordinator's HTTP side, with its holes closed.
//
//   POST <any path>   an acomm request; the reply body is the ack
//   POST /proxy       a response returning from a coordinator we forwarded to

import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError, isCoordinatorError } from '../../core/errors.js';
import { decodeRequest, decodeResponse, encodeAck, encodeRequest, encodeResponse } from '../../core/codec.js';
import type { Request, Response } from '../../core/model.js';
import type { Provider } from '../../core/provider.js';
import { isHttpScheme, schemeOf, unixSocketPath } from '../../core/wire-url.js';
import { traceContextOf } from '../../core/trace-context.js';
import { hasRawHeader } from '../shared/headers.js';
import { isPlainAcceptanceText } from '../../core/plain-ack.js';
import type { TraceContext } from '../../core/context.js';
import { HTTP_SERVER_SERVICE, type HttpServerService } from '../http-server/index.js';
import { UNIX_TRANSPORT_SERVICE, type UnixTransportService } from '../unix-transport/index.js';
import { readBody } from './body.js';
import type { RetryPolicy } from './http-client.js';
import { isLocalHostname, peerAddress, replaceLocalhost, unbracketed } from '../shared/localhost.js';

export const PLUGIN_NAME = 'http-ingress';
export const FEDERATION_SERVICE = 'http-ingress.federation';

/**
 * Forwarding to other coordinators for plugins that know a trusted peer
 * (the cluster's task registry): the caller vouches for the URL, which is not
 * checked against federationPeers. Set the request's taskURL to the same URL
 * before the provider is used, so the peer's /proxy answer is accepted.
 */
export interface FederationService {
  /** A provider that forwards a request to the coordinator at `taskURL` (its answer comes back through /proxy). */
  forwarder(taskURL: URL): Provider;
}

export interface HttpIngressOptions {
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number;
  /** Largest reply read from a hook or peer, bytes. */
  maxReplyBytes: number;
  /** Time for one POST to a hook or peer (headers and body), ms. */
  deliveryTimeoutMs: number;
  /** Retries of a POST on connection errors, with exponential backoff and jitter. */
  retry: RetryPolicy;
  /** Bearer tokens accepted at the ingress; empty: no authentication (the default on loopback). */
  bearerTokens: string[];
  /**
   * Coordinators a request's taskURL may point to: http(s) origins
   * ('http://10.0.0.2:8080', compared by scheme, host and port) or unix
   * sockets ('unix:///run/peer.sock', compared by exact path). Empty: federation off.
   */
  federationPeers: string[];
  /**
   * Where HTTP response hooks may point. 'any' (default, as the original
   * protocol): any http(s) URL. Otherwise a list of origins
   * ('https://app.example:8443') and/or 'caller': the HTTP caller's own
   * address (local callers: loopback).
   */
  responseHooks: 'any' | string[];
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxBodyBytes: { description: "Largest request body accepted, bytes (larger: 413).", type: 'integer', minimum: 1024, maximum: 1024 * 1024 * 1024, default: 4 * 1024 * 1024 },
    maxReplyBytes: { description: "Largest reply read from a hook or a federation peer, bytes.", type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 },
    deliveryTimeoutMs: { description: "Time for one POST to a hook or peer (headers and body), ms.", type: 'integer', minimum: 1, maximum: 600_000, default: 10_000 },
    retry: { description: "Retries of a POST on connection errors, with exponential backoff and jitter.", 
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        retries: { description: "Retries after the first attempt.", type: 'integer', minimum: 0, maximum: 20, default: 3 },
        delayMs: { description: "First retry delay, ms.", type: 'integer', minimum: 1, default: 100 },
        factor: { description: "Each delay is the previous one times this.", type: 'number', minimum: 1, default: 2 },
        maxDelayMs: { description: "Longest retry delay, ms.", type: 'integer', minimum: 1, default: 5_000 },
      },
    },
    bearerTokens: { description: "Bearer tokens accepted at the ingress (at least 16 characters each); empty: no authentication, the default on loopback. Set them whenever bindAddress is not loopback.", type: 'array', items: { type: 'string', minLength: 16 }, default: [] },
    federationPeers: { description: "Coordinators a request's taskURL may point to: http(s) origins (compared by scheme, host and port) or unix:// socket paths (compared exactly). Empty: federation off.", type: 'array', items: { type: 'string', pattern: '^(https?|unix)://' }, default: [] },
    responseHooks: { description: "Where HTTP response hooks may point: 'any' (default, as the original protocol), or a list of origins and/or 'caller' (the HTTP caller's own address).", anyOf: [{ const: 'any' }, { type: 'array', items: { anyOf: [{ const: 'caller' }, { type: 'string', pattern: '^https?://' }] } }], default: 'any' },
  },
};

const ACK_HEADERS = { 'content-type': 'text/plain; charset=utf-8' };
const UNMARSHAL = 'failed to unmarshal request';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function isJsonish(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type === 'text/plain' || type === '' || type.endsWith('+json');
}

/** An error's id and wire text for an ack (decode errors keep the original's prefix). */
function ackError(err: unknown): { id: string; status: number; text: string } {
  if (!isCoordinatorError(err)) return { id: '', status: 500, text: 'internal error' };
  const decodeProblem = err.code === 'ERR_DECODE' || err.code === 'ERR_BAD_REQUEST';
  return { id: err.requestId ?? '', status: err.status, text: decodeProblem ? `${UNMARSHAL}: ${err.message}` : err.wireMessage };
}

type Peer = { kind: 'http'; origin: string } | { kind: 'unix'; path: string };

function parsePeer(text: string): Peer {
  const url = new URL(text);
  if (url.protocol === 'unix:') return { kind: 'unix', path: path.resolve(unixSocketPath(url)) };
  return { kind: 'http', origin: url.origin };
}

export const httpIngress = definePlugin<HttpIngressOptions>({
  name: PLUGIN_NAME,
  dependencies: ['http-server'],
  optionsSchema,
  async apply(api, options) {
    // undici is loaded only when the plugin is configured.
    const { JsonPoster } = await import('./http-client.js');
    const { runtime, log } = api;
    const poster = new JsonPoster();
    let http!: HttpServerService;
    let unix: UnixTransportService | undefined;

    const reply = (res: http.ServerResponse, status: number, id: string, error: string) => {
      res.writeHead(status, ACK_HEADERS).end(encodeAck(id, error));
    };

    function authorized(req: http.IncomingMessage): boolean {
      if (options.bearerTokens.length === 0) return true;
      const header = req.headers.authorization ?? '';
      if (!header.startsWith('Bearer ')) return false;
      const token = header.slice(7);
      return options.bearerTokens.some((t) => sameSecret(token, t));
    }

    // ------------------------------------------------------------ ingress

    async function ingress(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
      const peer = req.socket.remoteAddress;
      if (!authorized(req)) {
        res.setHeader('www-authenticate', 'Bearer');
        reply(res, 401, '', 'unauthorized');
        return;
      }
      // The original read any body as JSON whatever its declared type (curl sends
      // form-urlencoded by default): so do we; a surprising type is noted at debug.
      if (log.isLevelEnabled('debug') && !isJsonish(req.headers['content-type'])) log.debug({ contentType: req.headers['content-type'], peer }, 'request body declared as non-JSON; reading it as JSON');
      let body: Buffer;
      try {
        body = await readBody(req, options.maxBodyBytes, runtime.receiveBudget);
      } catch (err) {
        // Answer, then close: the rest of the body is never read.
        const overloaded = isCoordinatorError(err) && err.code === 'ERR_OVERLOADED';
        if (overloaded) runtime.telemetry.emit('overloaded', { door: 'http' });
        if (res.destroyed || req.socket.destroyed) return;
        res.writeHead(overloaded ? 503 : 413, { ...ACK_HEADERS, connection: 'close', ...(overloaded ? { 'retry-after': '1' } : {}) });
        const text = overloaded ? `coordinator overloaded: ${(err as Error).message}` : `request body too large: the limit is ${options.maxBodyBytes} bytes`;
        res.end(encodeAck('', text), () => req.socket.destroy());
        return;
      }
      let request: Request;
      try {
        request = decodeRequest(body, { limits: runtime.jsonLimits });
      } catch (err) {
        const e = ackError(err);
        reply(res, 400, e.id, e.text);
        return;
      }
      request.responseHook = replaceLocalhost(request.responseHook, peer);
      request.streamURL = replaceLocalhost(request.streamURL, peer);
      if (!request.task && !request.taskURL) {
        reply(res, 400, request.id, 'request missing task');
        return;
      }
      try {
        // req.headers is built on first use: a request without a traceparent never builds it.
        const traceContext = hasRawHeader(req.rawHeaders, 'traceparent') ? traceContextOf(req.headers) : undefined;
        await runtime.dispatch(request, { origin: 'http', remoteAddress: peer, traceContext });
        reply(res, 200, request.id, '');
      } catch (err) {
        const e = ackError(err);
        reply(res, e.status, request.id, e.text);
      }
    }

    // A request from outside may not name local unix sockets: callers would
    // reach any socket on the machine (W14). Unix hooks come from local callers.
    const hookOrigins = options.responseHooks === 'any' ? undefined : new Set(options.responseHooks.filter((o) => o !== 'caller').map((o) => new URL(o).origin));
    const hooksToCaller = options.responseHooks !== 'any' && options.responseHooks.includes('caller');
    function hookAllowed(hook: URL, remoteAddress: string | undefined, origin: string): boolean {
      if (!hookOrigins) return true;
      if (hookOrigins.has(hook.origin)) return true;
      if (!hooksToCaller) return false;
      const host = unbracketed(hook.hostname);
      if (origin !== 'http' || !remoteAddress) return isLocalHostname(host);
      return host === peerAddress(remoteAddress);
    }

    /** A URL an HTTP caller may not name: a local socket, or a scheme no door serves. */
    function refuseFromHttp(field: string, url: URL | null, requestId: string): void {
      if (!url) return;
      const scheme = schemeOf(url);
      if (scheme === 'unix') throw new CoordinatorError('ERR_URL_NOT_ALLOWED', `${field}: unix URLs are not accepted from HTTP callers`, { requestId });
      if (!isHttpScheme(scheme)) throw new CoordinatorError('ERR_UNKNOWN_SCHEME', `${field}: unknown url scheme`, { requestId, wire: 'unknown url scheme' });
    }

    api.hooks.onRequest.tap({ name: PLUGIN_NAME, stage: -100 }, (request, ctx) => {
      const hook = request.responseHook;
      if (hook && hookOrigins && isHttpScheme(schemeOf(hook)) && !hookAllowed(hook, ctx.remoteAddress, ctx.origin)) {
        throw new CoordinatorError('ERR_URL_NOT_ALLOWED', `responseHook: ${hook.origin} is not an allowed response hook (http-ingress responseHooks)`, { requestId: request.id });
      }
      if (ctx.origin !== 'http') return request;
      refuseFromHttp('responseHook', request.responseHook, request.id);
      refuseFromHttp('streamURL', request.streamURL, request.id);
      // A unix federation peer is for local callers: from HTTP it would hand a network caller a local socket.
      if (request.taskURL && schemeOf(request.taskURL) === 'unix') {
        throw new CoordinatorError('ERR_URL_NOT_ALLOWED', 'taskURL: unix URLs are not accepted from HTTP callers', { requestId: request.id });
      }
      return request;
    });

    // ------------------------------------------------------------ delivery

    async function postResponse(hook: URL, response: Response, trace: TraceContext | undefined): Promise<void> {
      const answer = await poster.post(hook, encodeResponse(response), {
        timeoutMs: options.deliveryTimeoutMs, maxReplyBytes: options.maxReplyBytes, retry: options.retry, log, requestId: response.id, trace,
      });
      // A hook answers with an ack; its error (or an unreadable body) is a failed delivery, never retried.
      let ackError = '';
      try {
        if (!isPlainAcceptanceText(answer.body)) ackError = decodeResponse(answer.body).error;
      } catch (err) {
        throw new CoordinatorError('ERR_DELIVERY', `hook ${hook.origin} answered ${answer.status} with an unreadable ack: ${(err as Error).message}`, { requestId: response.id });
      }
      if (ackError) throw new CoordinatorError('ERR_DELIVERY', `hook ${hook.origin} refused the response: ${ackError}`, { requestId: response.id });
    }
    api.registerDelivery('http', { deliver: (hook, response, context) => postResponse(hook, response, context.requestContext.traceContext) });
    api.registerDelivery('https', { deliver: (hook, response, context) => postResponse(hook, response, context.requestContext.traceContext) });

    // ---------------------------------------------------------- federation

    const peers = options.federationPeers.map(parsePeer);
    // Parsed origins and exact socket paths: never string prefixes (userinfo, longer ports and paths got through).
    function allowedPeer(url: URL): boolean {
      if (url.username || url.password) return false;
      const scheme = schemeOf(url);
      if (scheme === 'unix') {
        const socket = path.resolve(unixSocketPath(url));
        return peers.some((p) => p.kind === 'unix' && p.path === socket);
      }
      return peers.some((p) => p.kind === 'http' && p.origin === url.origin);
    }

    function unixPeer(taskURL: URL): Provider {
      return {
        name: `federation:${taskURL.href}`,
        transport: 'unix',
        async send(request) {
          if (!unix) throw new CoordinatorError('ERR_UNKNOWN_SCHEME', 'unix taskURL needs the unix-transport plugin', { requestId: request.id });
          // The same request, taskURL cleared, hook kept: the socket's owner answers it directly.
          const error = await unix.sendMessage(unixSocketPath(taskURL), encodeRequest({ ...request, taskURL: null }));
          if (error) throw new CoordinatorError('ERR_PROVIDER_FAILED', error, { requestId: request.id, wire: error });
          return { direct: true };
        },
      };
    }

    function httpPeer(taskURL: URL): Provider {
      return {
        name: `federation:${taskURL.origin}`,
        transport: 'http',
        async send(request, ctx) {
          const forwarded: Request = { ...request, taskURL: null, responseHook: new URL(`${http.baseUrl()}/proxy`) };
          const answer = await poster.post(taskURL, encodeRequest(forwarded), {
            timeoutMs: options.deliveryTimeoutMs, maxReplyBytes: options.maxReplyBytes, retry: options.retry, log: ctx.log, requestId: request.id, trace: ctx.traceContext,
          });
          let error: string;
          try {
            error = decodeResponse(answer.body).error;
          } catch (err) {
            throw new CoordinatorError('ERR_PROVIDER_FAILED', `coordinator ${taskURL.origin} answered ${answer.status} with an unreadable ack`, { requestId: request.id, cause: err });
          }
          if (error) throw new CoordinatorError('ERR_PROVIDER_FAILED', error, { requestId: request.id, wire: error });
        },
      };
    }

    api.hooks.resolveProvider.tap({ name: PLUGIN_NAME, stage: -20 }, (request) => {
      const taskURL = request.taskURL;
      if (!taskURL) return undefined;
      const scheme = schemeOf(taskURL);
      if (scheme !== 'unix' && !isHttpScheme(scheme)) throw new CoordinatorError('ERR_UNKNOWN_SCHEME', undefined, { requestId: request.id });
      if (!allowedPeer(taskURL)) {
        throw new CoordinatorError('ERR_URL_NOT_ALLOWED', `taskURL ${taskURL.origin === 'null' ? taskURL.href : taskURL.origin} is not a configured federation peer`, { requestId: request.id });
      }
      return scheme === 'unix' ? unixPeer(taskURL) : httpPeer(taskURL);
    });

    async function proxyAnswer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
      let response: Response;
      try {
        response = decodeResponse(await readBody(req, options.maxReplyBytes, runtime.receiveBudget), { limits: runtime.jsonLimits });
      } catch (err) {
        reply(res, 400, '', (err as Error).message);
        return;
      }
      reply(res, 200, '', '');
      const peer = req.socket.remoteAddress;
      const tracked = runtime.trackedRequest(response.id);
      // Only the coordinator we forwarded to may answer (anyone knowing an id could, in the original: W2).
      if (!tracked?.taskURL || !isHttpScheme(schemeOf(tracked.taskURL))) {
        log.debug({ requestId: response.id }, '/proxy answer for no forwarded request dropped');
        return;
      }
      // Checkable only when we called an IP literal that is not our own host.
      const expected = unbracketed(tracked.taskURL.hostname);
      if (net.isIP(expected) && !isLocalHostname(expected) && peer && peerAddress(peer) !== expected) {
        log.warn({ requestId: response.id, peer }, '/proxy answer from another address than the peer called; dropped');
        return;
      }
      response.streamURL = replaceLocalhost(response.streamURL, peer);
      runtime.receiveResponse(response);
    }

    api.onStart(() => {
      http = api.service(HTTP_SERVER_SERVICE);
      if (runtime.hasService(UNIX_TRANSPORT_SERVICE)) unix = api.service(UNIX_TRANSPORT_SERVICE);
    });
    // Routes are registered at apply time so they exist before the server binds.
    const routes = api.service(HTTP_SERVER_SERVICE);
    routes.route('*', '/proxy', proxyAnswer, PLUGIN_NAME);
    routes.fallback(ingress, PLUGIN_NAME);
    if (options.bearerTokens.length === 0 && !['127.0.0.1', '::1', 'localhost'].includes(api.config.bindAddress)) {
      log.warn({ bindAddress: api.config.bindAddress }, 'HTTP ingress is open to the network without authentication; set bearerTokens');
    }
    api.provide(FEDERATION_SERVICE, { forwarder: httpPeer } satisfies FederationService);
    api.onStop(() => poster.close());
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'http-ingress.federation': FederationService;
  }
}
