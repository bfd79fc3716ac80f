// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
// and `tracestate` request headers, validated and bounded as they come in
// from outside (a malformed traceparent is ignored, as the spec says).

import type { TraceContext } from './context.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const MAX_TRACESTATE = 512;

/** The trace context of incoming headers, or undefined when there is none or it is malformed. */
export function traceContextOf(headers: Record<string, string | string[] | undefined>): TraceContext | undefined {
  const raw = headers.traceparent;
  if (typeof raw !== 'string' || raw.length > 256) return undefined;
  const traceparent = raw.trim().toLowerCase();
  const match = TRACEPARENT.exec(traceparent);
  // Version ff is invalid; all-zero ids are invalid; version 00 has no extra fields.
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!) || (match[1] === '00' && match[5] !== undefined)) return undefined;
  const state = headers.tracestate;
  const tracestate = typeof state === 'string' ? state : Array.isArray(state) ? state.join(',') : undefined;
  return tracestate && tracestate.length <= MAX_TRACESTATE ? { traceparent, tracestate } : { traceparent };
}

/** `base` plus the trace context as request headers; `base` itself when there is none (the common case costs nothing). */
export function traceHeaders(base: Record<string, string>, trace: TraceContext | undefined): Record<string, string> {
  if (!trace) return base;
  const headers: Record<string, string> = { ...base, traceparent: trace.traceparent };
  if (trace.tracestate) headers.tracestate = trace.tracestate;
  return headers;
}
