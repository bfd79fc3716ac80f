// The headers of a callback: the original's, built from the event, and made
// safe to put on the wire.

import type { StreamAvailableEvent, StreamClosedEvent } from '../shared/stream-events.js';

export function availableHeaders(e: StreamAvailableEvent): Record<string, string> {
  const headers: Record<string, string> = {
    'x-streaming-channel': e.channel,
    'x-streaming-id': e.streamId,
    'x-event-type': 'stream-available',
    'x-stream-type': e.streamType ?? '',
    'x-resolution': e.resolution ?? '',
    'x-index-file': e.indexFile ?? '',
  };
  if (e.startTime) headers['x-start-time'] = e.startTime;
  return headers;
}

export function closedHeaders(e: StreamClosedEvent): Record<string, string> {
  return { 'x-streaming-channel': e.channel, 'x-streaming-id': e.streamId, 'x-event-type': 'stream-closed' };
}

/**
 * A header value as bytes HTTP can carry: no control characters (an
 * encoder-supplied value could hold some), and text beyond ASCII sent as its
 * UTF-8 bytes, as the original sent it (`1280x720-30™` would otherwise be
 * refused by the HTTP client and block its stream's queue).
 */
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

export function headerValue(value: string): string {
  // The common case (plain ASCII) is checked once and kept as it is.
  if (PRINTABLE_ASCII.test(value)) return value;
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '');
  // eslint-disable-next-line no-control-regex
  return PRINTABLE_ASCII.test(clean) ? clean : Buffer.from(clean, 'utf8').toString('latin1');
}

/** The event's headers as they can go on the wire, in a new object the delivery adds its own to (one object per attempt). */
export function headerSafe(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) out[name] = headerValue(headers[name]!);
  return out;
}
