// POST JSON to a peer (response hook, federated coordinator) over a keep-alive
// undici pool, with bounded retries on connection errors and bounded reply size.

import { smallPost } from '../shared/small-post.js';
import { LazyAgent } from '../shared/lazy-agent.js';
import { CoordinatorError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { TraceContext } from '../../core/context.js';
import { traceHeaders } from '../../core/trace-context.js';

const JSON_HEADERS: Record<string, string> = { 'content-type': 'application/json' };

export interface RetryPolicy {
  retries: number;
  delayMs: number;
  factor: number;
  maxDelayMs: number;
}

export interface PostOptions {
  timeoutMs: number;
  maxReplyBytes: number;
  retry: RetryPolicy;
  log: Logger;
  requestId: string;
  /** W3C trace context to send on (traceparent, tracestate). */
  trace?: TraceContext | undefined;
}


export interface PostReply {
  status: number;
  body: string;
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return CONNECTION_ERRORS.has(e.code ?? '') || CONNECTION_ERRORS.has(e.cause?.code ?? '');
}

export class JsonPoster {
  private readonly agent = new LazyAgent({ keepAliveTimeout: 4_000, connections: 64 });

  async post(url: URL, json: string, options: PostOptions): Promise<PostReply> {
    let delay = options.retry.delayMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.once(url, json, options);
      } catch (err) {
        if (attempt >= options.retry.retries || !isConnectionError(err)) throw err;
        options.log.warn({ requestId: options.requestId, url: url.origin, attempt: attempt + 1, err: (err as Error).message }, 'POST failed; retrying');
        const jitter = delay * (0.5 + Math.random() * 0.5);
        await new Promise((resolve) => setTimeout(resolve, jitter));
        delay = Math.min(options.retry.maxDelayMs, delay * options.retry.factor);
      }
    }
  }

  /** One POST (undici's dispatch API: no body stream per call), its reply read up to maxReplyBytes. */
  private async once(url: URL, json: string, options: PostOptions): Promise<PostReply> {
    const res = await smallPost(this.agent, url, {
      headers: traceHeaders(JSON_HEADERS, options.trace),
      body: json,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      maxBodyBytes: options.maxReplyBytes,
      tooLarge: () => new CoordinatorError('ERR_DELIVERY', `reply from ${url.origin} larger than ${options.maxReplyBytes} bytes`),
    });
    return { status: res.statusCode, body: res.body };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
