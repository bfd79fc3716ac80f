// Key auth: admission of publish requests (and, optionally, of any task)
// by the application's key-verification URL, as the original coordinator did.
// Admission is never retried and fails closed by default: 200 is yes,
// anything else (another status, a timeout, a connection error) is no.

import { createHash } from 'node:crypto';
import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import type { Request } from '../../core/model.js';
import type { RequestContext } from '../../core/context.js';
import { webhookAuthorization, webhookEnv, webhookOptionsSchema, webhookProblems, type WebhookOptions } from '../shared/webhook-auth.js';
import type { Env } from '../shared/env.js';
import { firstHeader } from '../shared/headers.js';
import { DEFAULT_STREAM_SETTINGS, settingsFromHeaders, type StreamSettings } from './resolutions.js';
import { traceHeaders } from '../../core/trace-context.js';
import type { TraceContext } from '../../core/context.js';
import { DeadlineSignals } from '../shared/deadline-signals.js';
import { smallPost } from '../shared/small-post.js';
import { LazyAgent } from '../shared/lazy-agent.js';
import { ExpiringMap } from '../shared/expiring-map.js';

export const PLUGIN_NAME = 'key-auth';
/** The task of a publish request (shared with the streaming control plane). */
export const PUBLISH_TASK = 'stream.publish';
/** Where the verdict is attached: ctx.attributes[KEY_AUTH_ATTRIBUTE] is a StreamSettings. */
export const KEY_AUTH_ATTRIBUTE = 'key-auth';

export { DEFAULT_STREAM_SETTINGS, type StreamSettings } from './resolutions.js';

/** Arguments of a publish request. */
export interface PublishArgs {
  channel: string;
  key: string;
  userIp: string;
}

/**
 * url: KEY_VERIFICATION_URL (empty: every key is accepted, as the original; logged loudly);
 * auth/user/password/token/custom: KEY_VERIFICATION_AUTH, _AUTH_USER, _PASSWORD, _AUTH_TOKEN, _AUTH_CUSTOM.
 */
export interface KeyAuthOptions extends WebhookOptions {
  /** Whole verification must finish within this, ms (below the ingest server's 20 s wait). */
  timeoutMs: number;
  /** Cache positive answers this long, ms (0: off). */
  cacheTtlMs: number;
  /** At most this many cached answers (the oldest leave first). */
  cacheMaxEntries: number;
  /** Admit when the verifier cannot be reached (timeout, connection error). Off: fail closed. */
  failOpen: boolean;
  /** Other tasks to verify against the URL (generic mode): headers x-coordinator-task, x-coordinator-request-id, x-user-ip, body = the args as JSON. */
  rpcTasks: string[];
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...webhookOptionsSchema('KEY_VERIFICATION'),
    timeoutMs: { description: "The whole verification must finish within this, ms (below the ingest server's 20 s wait).", type: 'integer', minimum: 1, maximum: 120_000, default: 15_000 },
    cacheTtlMs: { description: "Cache positive answers this long, ms (0: off).", type: 'integer', minimum: 0, maximum: 3_600_000, default: 0 },
    cacheMaxEntries: { description: "With cacheTtlMs: at most this many cached answers (channel and key pairs); the oldest leave first.", type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000 },
    failOpen: { description: "Admit when the verifier cannot be reached (timeout, connection error). Off: fail closed.", type: 'boolean', default: false },
    rpcTasks: { description: "Other tasks to verify against the URL (generic mode): headers x-coordinator-task, x-coordinator-request-id, x-user-ip; body: the args as JSON.", type: 'array', items: { type: 'string' }, default: [] },
  },
};

/** The original's environment variables (KEY_VERIFICATION_*), which override the config file. */
export function keyAuthEnv(env: Env): Partial<KeyAuthOptions> {
  return webhookEnv(env, 'KEY_VERIFICATION');
}

export const keyAuth = definePlugin<KeyAuthOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  env: keyAuthEnv,
  check: (options) => webhookProblems(options, 'KEY_VERIFICATION_URL'),
  async apply(api, options) {
    const { log } = api;
    const auth = webhookAuthorization(options);
    // As many connections as verifications in flight under a publish burst (100 ingest servers publishing at once): a queue behind fewer adds its wait to every publish (bench/publish.bench.ts: 32 → 128 took the burst from ~6,000 to ~7,000–7,500 publishes/s).
    const agent = new LazyAgent({ keepAliveTimeout: 10_000, connections: 128 });
    // Each verification within timeoutMs, all told (one timer for all of them: see deadline-signals.ts).
    const deadlines = new DeadlineSignals(options.timeoutMs);
    const verifierUrl = options.url ? new URL(options.url) : undefined;
    const cache = new ExpiringMap<StreamSettings>(options.cacheTtlMs, options.cacheMaxEntries);
    const rpcTasks = new Set(options.rpcTasks);

    async function verify(headers: Record<string, string>, body: string, requestId: string, trace: TraceContext | undefined): Promise<{ ok: boolean; settings: StreamSettings; reason: string }> {
      const started = Date.now();
      try {
        // `headers` is this verification's own object: completed in place, not copied.
        if (auth !== undefined) headers.authorization = auth;
        if (body) headers['content-type'] = 'application/json';
        const res = await smallPost(agent, verifierUrl!, {
          headers: traceHeaders(headers, trace),
          body,
          deadlines,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        });
        if (res.statusCode !== 200) {
          api.runtime.telemetry.emit('key-verification', { result: 'denied', durationMs: Date.now() - started });
          return { ok: false, settings: DEFAULT_STREAM_SETTINGS, reason: `verifier answered ${res.statusCode}` };
        }
        api.runtime.telemetry.emit('key-verification', { result: 'accepted', durationMs: Date.now() - started });
        const get = (name: string) => firstHeader(res.headers, name);
        const settings = settingsFromHeaders(get);
        const rawResolutions = get('x-resolutions') ?? '';
        if (rawResolutions !== '' && settings.resolutions === '') log.warn({ requestId, value: rawResolutions }, 'x-resolutions has no valid item; the encoder will use ORIGINAL');
        const rawPreviews = get('x-previews') ?? '';
        if (rawPreviews !== '' && rawPreviews.toLowerCase() !== 'false' && settings.previews === 'False') log.warn({ requestId, value: rawPreviews }, 'x-previews is malformed; previews off');
        log.debug({ requestId, ms: Date.now() - started }, 'key verified');
        return { ok: true, settings, reason: '' };
      } catch (err) {
        const reason = (err as Error).name === 'TimeoutError' || (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT'
          ? `verifier did not answer within ${options.timeoutMs} ms`
          : `verifier unreachable: ${(err as Error).message}`;
        api.runtime.telemetry.emit('key-verification', { result: 'error', durationMs: Date.now() - started });
        if (options.failOpen) {
          log.warn({ requestId, reason }, 'key verification failed; admitting (failOpen)');
          return { ok: true, settings: DEFAULT_STREAM_SETTINGS, reason };
        }
        return { ok: false, settings: DEFAULT_STREAM_SETTINGS, reason };
      }
    }

    async function verifyPublish(request: Request, ctx: RequestContext): Promise<Request> {
      const args = (request.args ?? {}) as Partial<PublishArgs>;
      const channel = String(args.channel ?? '');
      const key = String(args.key ?? '');
      if (!options.url) {
        ctx.attributes[KEY_AUTH_ATTRIBUTE] = DEFAULT_STREAM_SETTINGS;
        return request;
      }
      const cacheKey = options.cacheTtlMs > 0 ? createHash('sha256').update(`${channel}\0${key}`).digest('base64') : '';
      const cached = cacheKey ? cache.get(cacheKey, Date.now()) : undefined;
      if (cached) {
        ctx.attributes[KEY_AUTH_ATTRIBUTE] = cached;
        return request;
      }
      const verdict = await verify({ 'x-streaming-channel': channel, 'x-streaming-key': key, 'x-user-ip': String(args.userIp ?? '') }, '', request.id, ctx.traceContext);
      if (!verdict.ok) {
        // The reason is logged; the key never is.
        ctx.log.debug({ channel, reason: verdict.reason }, 'publish denied by key verification');
        throw new CoordinatorError('ERR_REJECTED', `key verification failed: ${verdict.reason}`, { requestId: request.id, details: { channel } });
      }
      if (cacheKey) cache.set(cacheKey, verdict.settings, Date.now());
      ctx.attributes[KEY_AUTH_ATTRIBUTE] = verdict.settings;
      return request;
    }

    async function verifyRpc(request: Request, ctx: RequestContext): Promise<Request> {
      if (!options.url) return request;
      const verdict = await verify({
        'x-coordinator-task': request.task,
        'x-coordinator-request-id': request.id,
        'x-user-ip': ctx.remoteAddress ?? '',
      }, JSON.stringify(request.args ?? null), request.id, ctx.traceContext);
      if (!verdict.ok) throw new CoordinatorError('ERR_REJECTED', `request verification failed: ${verdict.reason}`, { requestId: request.id });
      return request;
    }

    api.hooks.onRequest.tapPromise({ name: PLUGIN_NAME, stage: 10 }, async (request, ctx) => {
      if (request.task === PUBLISH_TASK) return verifyPublish(request, ctx);
      if (rpcTasks.has(request.task)) return verifyRpc(request, ctx);
      return request;
    });

    api.onStart(() => {
      if (!options.url) {
        log.warn('KEY_VERIFICATION_URL is not set: EVERY stream key is accepted. Set it to let the application verify publishers.');
      } else {
        log.info({ url: new URL(options.url).origin, auth: options.auth, timeoutMs: options.timeoutMs, failOpen: options.failOpen }, 'key verification enabled');
      }
    });
    api.onStop(() => { deadlines.close(); return agent.close(); });
  },
});
