// Stream proxy: bytes cross the unix/HTTP boundary without being buffered.
//
// - A unix stream URL leaving through HTTP (a provider's output for an HTTP
//   caller, or input offered to a federated peer) becomes
//   <baseUrl>/stream/<token>: an opaque, unguessable, expiring, single-use
//   token for a stream this coordinator registered. Anything else under
//   /stream is 404. (The original's /stream?addr=<any address> let any caller
//   make the coordinator read any socket or fetch any URL: W1.)
// - An HTTP stream URL going to a unix provider becomes a one-shot unix
//   socket that fetches the URL when the provider connects (lazily: W19).
//   Only the caller's own host is fetched by default (no SSRF).

import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { isHttpScheme, schemeOf } from '../../core/wire-url.js';
import { HTTP_SERVER_SERVICE, notFound, type HttpServerService } from '../http-server/index.js';
import { UNIX_TRANSPORT_SERVICE, type UnixTransportService } from '../unix-transport/index.js';
import { isLocalHostname, peerAddress, unbracketed } from '../shared/localhost.js';
import { LazyAgent, loadUndici } from '../shared/lazy-agent.js';

export const PLUGIN_NAME = 'stream-proxy';
export const STREAM_PROXY_SERVICE = 'stream.proxy';

export interface StreamProxyOptions {
  /** A token is refused after this time, ms. */
  tokenTtlMs: number;
  /** Tokens are single use (the default); false lets a token be read until it expires. */
  singleUse: boolean;
  /** Most tokens registered at once; more are refused. */
  maxTokens: number;
  /** Which hosts an inbound http(s) stream URL may name: 'caller' (the requester's own address), 'any', or a list of hostnames. */
  inboundStreamHosts: 'caller' | 'any' | string[];
  /** Time to connect to an upstream HTTP stream and get its headers, ms. */
  upstreamTimeoutMs: number;
  /** Most bridges (one-shot unix sockets for an HTTP stream URL) open at once. */
  maxInboundStreams: number;
  /** Most bridges open at once for one caller (by address). */
  maxInboundStreamsPerCaller: number;
}

export interface StreamProxyService {
  /** Register a source and get the HTTP URL that serves it once. */
  register(source: URL): URL;
  /** Tokens currently registered. */
  readonly size: number;
  /** Streams being served right now. */
  readonly open: number;
  /** Bytes served since start. */
  readonly bytes: number;
  /** Bridges open now (HTTP stream URLs offered to unix providers). */
  readonly inbound: number;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tokenTtlMs: { description: "A stream token is refused after this time, ms.", type: 'integer', minimum: 1, maximum: 86_400_000, default: 60_000 },
    singleUse: { description: "Tokens are single use; false lets a token be read until it expires.", type: 'boolean', default: true },
    maxTokens: { description: "Most tokens registered at once; more are refused.", type: 'integer', minimum: 1, default: 10_000 },
    inboundStreamHosts: { description: "Which hosts an inbound http(s) stream URL may name: 'caller' (the requester's own address), 'any', or a list of hostnames.", anyOf: [{ enum: ['caller', 'any'] }, { type: 'array', items: { type: 'string' } }], default: 'caller' },
    upstreamTimeoutMs: { description: "Time to connect to an upstream HTTP stream and get its headers, ms.", type: 'integer', minimum: 1, default: 10_000 },
    maxInboundStreams: { description: "Most bridges (one-shot unix sockets serving an HTTP stream URL to a unix provider) open at once.", type: 'integer', minimum: 1, maximum: 100_000, default: 256 },
    maxInboundStreamsPerCaller: { description: "Most bridges open at once for one caller (by address).", type: 'integer', minimum: 1, maximum: 100_000, default: 32 },
  },
};

interface TokenEntry {
  source: URL;
  expiresAt: number;
}

const STREAM_HEADERS = { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' } as const;
const TOKEN_PATTERN = /^\/stream\/([A-Za-z0-9_-]{32})$/;

export const streamProxy = definePlugin<StreamProxyOptions>({
  name: PLUGIN_NAME,
  dependencies: ['http-server', 'unix-transport'],
  optionsSchema,
  async apply(api, options) {
    const { log } = api;
    const tokens = new Map<string, TokenEntry>();
    const agent = new LazyAgent({ keepAliveTimeout: 4_000 });
    const http = api.service(HTTP_SERVER_SERVICE);
    const unix = api.service(UNIX_TRANSPORT_SERVICE);
    let open = 0;
    let bytes = 0;

    function sweep(): void {
      const now = Date.now();
      for (const [token, entry] of tokens) if (entry.expiresAt <= now) tokens.delete(token);
    }
    const sweeper = setInterval(sweep, Math.min(options.tokenTtlMs, 30_000));
    sweeper.unref();

    function register(source: URL): URL {
      if (tokens.size >= options.maxTokens) sweep();
      if (tokens.size >= options.maxTokens) throw new CoordinatorError('ERR_INTERNAL', `stream proxy: more than ${options.maxTokens} open stream tokens`);
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, { source, expiresAt: Date.now() + options.tokenTtlMs });
      return new URL(`${http.baseUrl()}/stream/${token}`);
    }

    async function openUpstream(url: URL): Promise<Readable> {
      const [{ request }, dispatcher] = await Promise.all([loadUndici(), agent.get()]);
      const res = await request(url, { method: 'GET', dispatcher, headersTimeout: options.upstreamTimeoutMs, bodyTimeout: options.upstreamTimeoutMs });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        res.body.destroy();
        throw new CoordinatorError('ERR_PROVIDER_FAILED', `upstream stream ${url.origin} answered ${res.statusCode}`);
      }
      return res.body;
    }

    function openSource(source: URL): Promise<Readable> {
      if (schemeOf(source) === 'unix') return Promise.resolve(unix.readStream(source));
      return openUpstream(source);
    }

    /** Wait for the first chunk (or the end) so an early failure can still be a proper HTTP error. */
    function firstChunk(stream: Readable): Promise<void> {
      return new Promise((resolve, reject) => {
        const cleanup = () => { stream.off('readable', onReadable); stream.off('error', onError); stream.off('end', onReadable); };
        const onReadable = () => { cleanup(); resolve(); };
        const onError = (err: Error) => { cleanup(); reject(err); };
        stream.once('readable', onReadable);
        stream.once('end', onReadable);
        stream.once('error', onError);
      });
    }

    /** The source failed before anything was sent: still a proper HTTP error. */
    function failedBeforeFirstByte(res: http.ServerResponse, err: unknown): void {
      log.warn({ err: (err as Error).message }, 'stream source failed before the first byte');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('failed to stream data\n');
    }

    /** The source failed (or the client left) mid-stream: the response is aborted, an incomplete chunked body, never a silent truncation. */
    function endedEarly(res: http.ServerResponse, err: unknown): void {
      log.warn({ err: (err as Error).message }, 'stream ended early');
      res.destroy();
    }

    async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
      const match = TOKEN_PATTERN.exec(req.url ?? '');
      const entry = match ? tokens.get(match[1]!) : undefined;
      if (!match || !entry || entry.expiresAt <= Date.now() || (req.method !== 'GET' && req.method !== 'HEAD')) {
        notFound(res);
        return;
      }
      if (options.singleUse) tokens.delete(match[1]!);
      if (req.method === 'GET' && schemeOf(entry.source) === 'unix') {
        await pumpFromUnix(entry.source, res);
        return;
      }
      let source: Readable;
      try {
        source = await openSource(entry.source);
        await firstChunk(source);
      } catch (err) {
        failedBeforeFirstByte(res, err);
        return;
      }
      res.writeHead(200, STREAM_HEADERS);
      if (req.method === 'HEAD') {
        source.destroy();
        res.end();
        return;
      }
      open += 1;
      // Bytes are counted as they pass, without a stream stage of their own.
      source.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      try {
        // Backpressure end to end; a client that leaves destroys the source, a
        // source that fails aborts the response (the client sees an incomplete
        // chunked body, never a silent truncation).
        await pipeline(source, res);
      } catch (err) {
        endedEarly(res, err);
      } finally {
        open -= 1;
      }
    }

    /** A unix source: copied through the transport's reused buffers (flat memory at any rate), the status sent at the first byte. */
    async function pumpFromUnix(source: URL, res: http.ServerResponse): Promise<void> {
      let begun = false;
      open += 1;
      try {
        await unix.pumpStream(source, () => {
          begun = true;
          return res.writeHead(200, STREAM_HEADERS);
        }, (n) => { bytes += n; });
      } catch (err) {
        if (begun) endedEarly(res, err);
        else failedBeforeFirstByte(res, err);
      } finally {
        open -= 1;
      }
    }

    function inboundAllowed(url: URL, remoteAddress: string | undefined): boolean {
      const host = unbracketed(url.hostname);
      if (options.inboundStreamHosts === 'any') return true;
      if (Array.isArray(options.inboundStreamHosts)) return options.inboundStreamHosts.includes(host);
      if (!remoteAddress) return isLocalHostname(host);
      return host === peerAddress(remoteAddress);
    }

    // Each bridge is a listening unix socket (a descriptor) until it is read or
    // expires: bounded overall and per caller, and closed at once when the
    // request it was opened for is not accepted.
    const bridges = new Map<string, number>();
    let inbound = 0;
    async function bridge(url: URL, caller: string, requestId: string, whenRefused: (fn: () => void) => void): Promise<URL> {
      const mine = bridges.get(caller) ?? 0;
      if (inbound >= options.maxInboundStreams || mine >= options.maxInboundStreamsPerCaller) {
        const which = inbound >= options.maxInboundStreams ? `${options.maxInboundStreams} (maxInboundStreams)` : `${options.maxInboundStreamsPerCaller} for one caller (maxInboundStreamsPerCaller)`;
        throw new CoordinatorError('ERR_OVERLOADED', `streamURL: too many stream bridges open: the limit is ${which}; retry when earlier streams were read or expired`, { requestId });
      }
      inbound += 1;
      bridges.set(caller, mine + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        inbound -= 1;
        const n = (bridges.get(caller) ?? 1) - 1;
        if (n <= 0) bridges.delete(caller);
        else bridges.set(caller, n);
      };
      let offered;
      try {
        offered = await unix.offerStream(() => openUpstream(url));
      } catch (err) {
        release();
        throw err;
      }
      void offered.finished.then(release);
      whenRefused(() => { void offered.close(); });
      return offered.url;
    }

    api.hooks.onStream.tapPromise(PLUGIN_NAME, async (url, ctx) => {
      const from = schemeOf(url);
      const toHttp = isHttpScheme(ctx.to);
      if (toHttp && from === 'unix') return register(url);
      // A federated peer's stream URL: the client may not reach the peer, so we relay it (as Go did).
      if (toHttp && isHttpScheme(from) && ctx.direction === 'response' && ctx.request.taskURL) return register(url);
      if (ctx.to === 'unix' && isHttpScheme(from)) {
        if (!inboundAllowed(url, ctx.requestContext.remoteAddress)) {
          throw new CoordinatorError('ERR_URL_NOT_ALLOWED', `streamURL: the coordinator does not fetch ${url.host} (inboundStreamHosts policy)`, { requestId: ctx.request.id });
        }
        return bridge(url, ctx.requestContext.remoteAddress ?? ctx.requestContext.origin, ctx.request.id, (fn) => ctx.requestContext.whenRefused(fn));
      }
      return url;
    });

    http.prefixRoute('*', '/stream', serve, PLUGIN_NAME);
    api.provide(STREAM_PROXY_SERVICE, {
      register,
      get size() { return tokens.size; },
      get open() { return open; },
      get bytes() { return bytes; },
      get inbound() { return inbound; },
    });
    api.onStop(async () => {
      clearInterval(sweeper);
      tokens.clear();
      await agent.close();
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'stream.proxy': StreamProxyService;
  }
}
