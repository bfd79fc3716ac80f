// Spans of the request pipeline: one per request (from dispatch to its one
// outcome), a child per hook tap that ran for it, and spans other plugins open
// for their own outgoing calls (webhooks). The caller's W3C trace context is
// the parent; the request's context then carries the request span's, so the
// doors that call out on its behalf send it on.

import type { Span, Tracer, Context as OtelContext } from '@opentelemetry/api';
import type { Request } from '../../core/model.js';
import type { RequestContext, TraceContext } from '../../core/context.js';
import type { TapTrace } from '../../core/hooks.js';
import type { RequestTelemetry } from '../../core/runtime.js';
import type { Otel } from './otel.js';

interface Entry {
  span: Span;
  context: OtelContext;
  /** Requests refused because another with this id was in flight (their outcome must not end this span). */
  shadowed: number;
}

/** What a plugin gets for an outgoing call it traces. */
export interface OutgoingSpan {
  /** Send these as traceparent/tracestate. */
  readonly traceContext: TraceContext;
  end(error?: string): void;
}

const OK_OUTCOMES = new Set(['ok', 'forwarded']);
const cut = (text: string, max = 128) => (text.length > max ? text.slice(0, max) : text);

export function traceparentOf(span: Span): TraceContext {
  const c = span.spanContext();
  const out: TraceContext = { traceparent: `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1) === 1 ? '01' : '00'}` };
  const state = c.traceState?.serialize();
  if (state) out.tracestate = state;
  return out;
}

export class RequestSpans {
  private readonly requests = new Map<string, Entry>();
  private readonly taps = new WeakMap<TapTrace, Span>();
  /** Requests not traced because `maxInFlight` were already open. */
  dropped = 0;

  constructor(private readonly otel: Otel, private readonly tracer: Tracer, private readonly maxInFlight: number) {}

  private parentOf(trace: TraceContext | undefined): OtelContext {
    const { api, core } = this.otel;
    if (!trace) return api.ROOT_CONTEXT;
    const [, traceId, spanId, flags] = trace.traceparent.split('-');
    return api.trace.setSpanContext(api.ROOT_CONTEXT, {
      traceId: traceId!, spanId: spanId!, traceFlags: Number.parseInt(flags!, 16) & 1, isRemote: true,
      ...(trace.tracestate ? { traceState: new core.TraceState(trace.tracestate) } : {}),
    });
  }

  requestStarted(request: Request, context: RequestContext): void {
    const existing = this.requests.get(request.id);
    if (existing) {
      existing.shadowed += 1;
      return;
    }
    if (this.requests.size >= this.maxInFlight) {
      this.dropped += 1;
      return;
    }
    const { api } = this.otel;
    const span = this.tracer.startSpan(`request ${cut(request.task || 'federated', 64)}`, {
      kind: context.origin === 'inproc' ? api.SpanKind.INTERNAL : api.SpanKind.SERVER,
      attributes: {
        'coordinator.request.id': cut(request.id),
        'coordinator.task': cut(request.task, 64),
        'coordinator.origin': context.origin,
        ...(context.remoteAddress ? { 'client.address': cut(context.remoteAddress) } : {}),
      },
    }, this.parentOf(context.traceContext));
    this.requests.set(request.id, { span, context: api.trace.setSpan(api.ROOT_CONTEXT, span), shadowed: 0 });
    // Calls made on this request's behalf carry our span as their parent.
    context.traceContext = traceparentOf(span);
  }

  requestSettled(e: RequestTelemetry): void {
    const entry = this.requests.get(e.id);
    if (!entry) return;
    if (e.outcome === 'ERR_DUPLICATE_ID' && entry.shadowed > 0) {
      entry.shadowed -= 1;
      return;
    }
    this.requests.delete(e.id);
    entry.span.setAttribute('coordinator.outcome', cut(e.outcome, 40));
    if (!OK_OUTCOMES.has(e.outcome)) entry.span.setStatus({ code: this.otel.api.SpanStatusCode.ERROR, message: cut(e.error ?? e.outcome, 240) });
    entry.span.end();
  }

  /** The request a tap runs for: onRequest/resolveProvider get (request, context); onResponse/onStream (value, { request }). */
  private requestOf(trace: TapTrace): Entry | undefined {
    const second = trace.args[1] as { request?: { id?: unknown } } | undefined;
    const first = trace.args[0] as { id?: unknown } | undefined;
    const id = second?.request?.id ?? first?.id;
    return typeof id === 'string' ? this.requests.get(id) : undefined;
  }

  tapStarted(trace: TapTrace): void {
    const parent = this.requestOf(trace);
    if (!parent) return;
    const span = this.tracer.startSpan(`${trace.hook} ${trace.plugin}`, {
      attributes: { 'coordinator.hook': trace.hook, 'coordinator.plugin': trace.plugin },
    }, parent.context);
    this.taps.set(trace, span);
  }

  tapFailed(trace: TapTrace & { error?: unknown }): void {
    const span = this.taps.get(trace);
    if (!span) return;
    const message = cut(String((trace.error as Error)?.message ?? trace.error), 240);
    span.setStatus({ code: this.otel.api.SpanStatusCode.ERROR, message });
  }

  tapEnded(trace: TapTrace): void {
    const span = this.taps.get(trace);
    if (!span) return;
    this.taps.delete(trace);
    span.end();
  }

  /** A span for an outgoing call not tied to a request (a webhook): its own trace. */
  outgoing(name: string, attributes: Record<string, string | number>): OutgoingSpan {
    const span = this.tracer.startSpan(cut(name, 64), { kind: this.otel.api.SpanKind.CLIENT, attributes });
    return {
      traceContext: traceparentOf(span),
      end: (error) => {
        if (error) span.setStatus({ code: this.otel.api.SpanStatusCode.ERROR, message: cut(error, 240) });
        span.end();
      },
    };
  }

  /** Spans still open (requests in flight). */
  get open(): number {
    return this.requests.size;
  }

  /** At stop: requests still open end now, marked as cut. */
  endAll(): void {
    for (const entry of this.requests.values()) {
      entry.span.setAttribute('coordinator.outcome', 'cut at stop');
      entry.span.end();
    }
    this.requests.clear();
  }
}
