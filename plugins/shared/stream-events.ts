// The domain events of a stream's life, published on the onEvent hook by the
// streaming control plane and consumed by event callbacks (or any plugin).

export const STREAM_AVAILABLE = 'stream.available';
export const STREAM_CLOSED = 'stream.closed';

/** An encoder reported a playable rendition (one per STREAM-AVAILABLE). */
export interface StreamAvailableEvent {
  channel: string;
  streamId: string;
  streamType: string;
  resolution: string;
  indexFile: string;
  /** Sent as x-start-time only when non-empty. */
  startTime?: string;
}

/** A stream ended (the encoder said so, or its encoder was lost). */
export interface StreamClosedEvent {
  channel: string;
  streamId: string;
}
