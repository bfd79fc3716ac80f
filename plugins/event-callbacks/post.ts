// One callback POST: the event's headers, its delivery id and sequence
// number, the Authorization the options ask for, and with signing secrets a
// JSON body and its signature. Made with smallPost() on the plugin's own
// undici agent, each within requestTimeoutMs all told. Used alike by the
// delivery loop on the event loop, the cluster's deliverer and the delivery
// thread (delivery-worker.ts).

import { DeadlineSignals } from '../shared/deadline-signals.js';
import { LazyAgent } from '../shared/lazy-agent.js';
import { smallPost } from '../shared/small-post.js';
import { webhookAuthorization } from '../shared/webhook-auth.js';
import { traceHeaders } from '../../core/trace-context.js';
import type { TraceContext } from '../../core/context.js';
import { headerSafe } from './callback-headers.js';
import { SIGNATURE_HEADER, sign } from './signature.js';
import type { OutboxRow } from './outbox.js';
import type { EventCallbacksOptions } from './types.js';

export type CallbackRow = Pick<OutboxRow, 'deliveryId' | 'seq' | 'type' | 'channel' | 'streamId' | 'headers' | 'createdAt'>;

/** With the tracing plugin: each attempt is a span, and the application gets its traceparent. */
export type AttemptTracer = (name: string, attributes: Record<string, string | number>) => { traceContext?: TraceContext | undefined; end(error?: string): void } | undefined;

export interface CallbackPoster {
  /** Resolves when the application answered 200; rejects otherwise. */
  post(row: CallbackRow): Promise<void>;
  /** After the last POST has ended: close the connections. */
  close(): Promise<void>;
}

export function callbackPoster(options: EventCallbacksOptions, tracer?: AttemptTracer): CallbackPoster {
  const auth = webhookAuthorization(options);
  const agent = new LazyAgent({ keepAliveTimeout: 10_000, connections: options.concurrency });
  // One POST within requestTimeoutMs, all told (one timer for all of them: see deadline-signals.ts).
  const deadlines = new DeadlineSignals(options.requestTimeoutMs);
  const url = options.url ? new URL(options.url) : undefined;

  async function post(row: CallbackRow): Promise<void> {
    const headers = headerSafe(row.headers);
    headers['x-delivery-id'] = row.deliveryId;
    headers['x-event-sequence'] = String(row.seq);
    if (auth !== undefined) headers.authorization = auth;
    let body = '';
    if (options.signingSecrets.length > 0) {
      body = JSON.stringify({ deliveryId: row.deliveryId, sequence: row.seq, type: row.type, channel: row.channel, streamId: row.streamId, headers: row.headers, createdAt: row.createdAt });
      headers['content-type'] = 'application/json';
      headers[SIGNATURE_HEADER] = sign(options.signingSecrets, Math.floor(Date.now() / 1000), row.deliveryId, body);
    }
    const traced = tracer?.(`callback ${row.type}`, { 'coordinator.delivery.id': row.deliveryId, 'coordinator.channel': row.channel.slice(0, 128), 'coordinator.sequence': row.seq });
    try {
      const res = await smallPost(agent, url!, {
        headers: traceHeaders(headers, traced?.traceContext), body, deadlines,
        headersTimeout: options.requestTimeoutMs, bodyTimeout: options.requestTimeoutMs,
      });
      if (res.statusCode !== 200) throw new Error(`application answered ${res.statusCode}`);
      traced?.end();
    } catch (err) {
      traced?.end((err as Error).message);
      throw err;
    }
  }

  return {
    post,
    async close() {
      await agent.close();
      deadlines.close();
    },
  };
}
