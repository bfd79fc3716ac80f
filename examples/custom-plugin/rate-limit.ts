// A custom plugin tapping onRequest: a token-bucket rate limiter per task.
// Requests over the limit are rejected with ERR_REJECTED before any provider
// is chosen. Options are validated with the schema before apply().
import { CoordinatorError, definePlugin } from '../../index.js';

export interface RateLimitOptions {
  /** Requests allowed per second, per task. */
  perSecond: number;
  /** Burst size (bucket capacity). */
  burst: number;
}

export const rateLimit = definePlugin<RateLimitOptions>({
  name: 'rate-limit',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      perSecond: { type: 'number', exclusiveMinimum: 0, default: 100 },
      burst: { type: 'integer', minimum: 1, default: 20 },
    },
  },
  apply(api, options) {
    const buckets = new Map<string, { tokens: number; at: number }>();
    api.hooks.onRequest.tap(api.name, (request, ctx) => {
      const now = Date.now();
      const bucket = buckets.get(request.task) ?? { tokens: options.burst, at: now };
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.at) / 1000) * options.perSecond);
      bucket.at = now;
      buckets.set(request.task, bucket);
      if (bucket.tokens < 1) {
        ctx.log.warn({ task: request.task }, 'rate limited');
        throw new CoordinatorError('ERR_REJECTED', `rate limit: task ${request.task} is over ${options.perSecond}/s`, { requestId: request.id });
      }
      bucket.tokens -= 1;
      return request;
    });
  },
});
