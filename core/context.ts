// Per-request context handed to hook taps alongside the request or response.

import type { Logger } from './logger.js';
import type { Request, Response } from './model.js';

export interface RequestContext {
  /** Which door the request came in by: 'inproc', 'unix', 'http', 'ws', or a plugin's own name. */
  readonly origin: string;
  /** Peer address when the door has one (IP for HTTP/WS, socket path for unix). */
  readonly remoteAddress: string | undefined;
  /** Time allowed for the response (ms); onRequest taps may change it. */
  timeoutMs: number;
  /** Data plugins attach for later taps, keyed by plugin name (e.g. key-auth's verdict). */
  readonly attributes: Record<string, unknown>;
  /** Logger bound to this request's id. */
  readonly log: Logger;
  readonly receivedAt: number;
}

export interface ResponseContext {
  /** The request as it was dispatched (with its original response hook). */
  readonly request: Request;
  readonly requestContext: RequestContext;
  readonly log: Logger;
}

export interface StreamContext {
  /** 'request': input offered to a provider; 'response': output offered to a requester. */
  readonly direction: 'request' | 'response';
  /** Transport on the far side of the boundary ('unix', 'http', 'inproc', …). */
  readonly to: string;
  readonly request: Request;
  readonly response: Response | undefined;
  readonly requestContext: RequestContext;
  readonly log: Logger;
}

export function createRequestContext(
  root: Logger,
  requestId: string,
  origin: string,
  remoteAddress: string | undefined,
  timeoutMs: number,
): RequestContext {
  let log: Logger | undefined;
  return {
    origin,
    remoteAddress,
    timeoutMs,
    attributes: {},
    receivedAt: Date.now(),
    // A child logger per request costs an allocation; make it only when someone logs.
    get log() {
      log ??= root.child({ requestId });
      return log;
    },
  };
}
