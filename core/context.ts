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
  /**
   * Aborted when the request timed out before a provider accepted it: a
   * provider stops trying (no further failover) and the request's one
   * outcome is ERR_TIMEOUT. Created on first use.
   */
  readonly signal: AbortSignal;
  /** True once the request timed out before it was accepted. */
  readonly timedOut: boolean;
  /**
   * Run `fn` if the request is not accepted (refused by a tap, no provider,
   * every provider failed, timed out): for resources a tap opened for it,
   * such as a stream bridge. Never runs for an accepted request.
   */
  whenRefused(fn: () => void): void;
}

/** The runtime's side of a request context. */
export interface InternalRequestContext extends RequestContext {
  /** Mark the request timed out (before acceptance) and abort its signal. */
  abort(): void;
  /** Run the whenRefused callbacks (each at most once). */
  refused(): void;
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
): InternalRequestContext {
  // A child logger, an AbortController and a callback list per request cost
  // allocations; each is made only when someone uses it.
  let log: Logger | undefined;
  let controller: AbortController | undefined;
  let timedOut = false;
  let onRefused: Array<() => void> | undefined;
  return {
    origin,
    remoteAddress,
    timeoutMs,
    attributes: {},
    receivedAt: Date.now(),
    get log() {
      log ??= root.child({ requestId });
      return log;
    },
    get signal() {
      controller ??= new AbortController();
      if (timedOut && !controller.signal.aborted) controller.abort();
      return controller.signal;
    },
    get timedOut() {
      return timedOut;
    },
    whenRefused(fn) {
      (onRefused ??= []).push(fn);
    },
    abort() {
      timedOut = true;
      controller?.abort();
    },
    refused() {
      const callbacks = onRefused;
      onRefused = undefined;
      if (!callbacks) return;
      for (const fn of callbacks) {
        try {
          fn();
        } catch (err) {
          root.warn({ err, requestId }, 'cleanup of a refused request failed');
        }
      }
    },
  };
}
