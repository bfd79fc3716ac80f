// What resolveProvider returns: something that can take a request for a task.

import type { Request } from './model.js';
import type { RequestContext } from './context.js';

export interface SendOutcome {
  /**
   * True when the provider answers the request's own response hook directly
   * (e.g. a unix hook handed through unchanged), so the core must not wait
   * for, or time out, the response.
   */
  direct?: boolean;
}

/**
 * A provider accepts a request and acknowledges it; the response arrives later
 * through `runtime.receiveResponse()`. `send` rejects when the request was not
 * accepted (refused, unreachable); the rejection reason is what the caller sees.
 */
export interface Provider {
  /** For logs and errors: e.g. 'unix:/tmp/cerana/CPUInfo/50-simple.sock' or 'inproc:CPUInfo'. */
  readonly name: string;
  /** The boundary a request crosses to reach it ('unix', 'http', 'inproc'); onStream taps read it. */
  readonly transport: string;
  send(request: Request, context: RequestContext): Promise<SendOutcome | void>;
}
