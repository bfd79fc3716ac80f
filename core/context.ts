// Per-request context handed to hook taps alongside the request or response.

import { deferredChild, type Logger } from './logger.js';
import type { Request, Response } from './model.js';

/** W3C Trace Context (https://www.w3.org/TR/trace-context/) headers, as received or to send on. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

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
  /**
   * The W3C trace context of this request: what the caller sent (HTTP
   * ingress reads `traceparent`/`tracestate`), replaced by the tracing
   * plugin with its request span. Doors that call out on the request's
   * behalf (HTTP response hooks) send it on.
   */
  traceContext: TraceContext | undefined;
}

/** The runtime's side of a request context. */
export interface InternalRequestContext extends RequestContext {
  /** Mark the request timed out (before acceptance) and abort its signal. */
  abort(): void;
  /** Run the whenRefused callbacks (each at most once). */
  refused(): void;
  /** The in-process caller waiting for the response (runtime.inject), if any. */
  inprocWaiter: ((response: Response) => void) | undefined;
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

class Context implements InternalRequestContext {
  // A logger, an AbortController and a callback list per request cost
  // allocations; each is made only when someone uses it. Methods live on the
  // prototype: nothing per request but the fields.
  private attrs: Record<string, unknown> | undefined;
  readonly receivedAt = Date.now();
  private logger: Logger | undefined;
  private controller: AbortController | undefined;
  private aborted = false;
  private onRefused: Array<() => void> | undefined;
  traceContext: TraceContext | undefined = undefined;
  inprocWaiter: ((response: Response) => void) | undefined = undefined;

  constructor(
    private readonly root: Logger,
    private readonly requestId: string,
    readonly origin: string,
    readonly remoteAddress: string | undefined,
    public timeoutMs: number,
  ) {}

  /** Made on first use: most requests carry no attributes. */
  get attributes(): Record<string, unknown> {
    this.attrs ??= {};
    return this.attrs;
  }

  get log(): Logger {
    this.logger ??= deferredChild(this.root, { requestId: this.requestId });
    return this.logger;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted && !this.controller.signal.aborted) this.controller.abort();
    return this.controller.signal;
  }

  get timedOut(): boolean {
    return this.aborted;
  }

  whenRefused(fn: () => void): void {
    (this.onRefused ??= []).push(fn);
  }

  abort(): void {
    this.aborted = true;
    this.controller?.abort();
  }

  refused(): void {
    const callbacks = this.onRefused;
    this.onRefused = undefined;
    if (!callbacks) return;
    for (const fn of callbacks) {
      try {
        fn();
      } catch (err) {
        this.root.warn({ err, requestId: this.requestId }, 'cleanup of a refused request failed');
      }
    }
  }
}

export function createRequestContext(
  root: Logger,
  requestId: string,
  origin: string,
  remoteAddress: string | undefined,
  timeoutMs: number,
): InternalRequestContext {
  return new Context(root, requestId, origin, remoteAddress, timeoutMs);
}
