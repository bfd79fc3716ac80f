// A POST with a small body whose answer's status and headers are what counts
// (a key verification, a callback): undici's dispatch API with a handler that
// discards the answer's body, instead of request(), which builds a body
// stream and a promise chain per call. Measured on the publish path (a
// verification per publish): see bench/publish.bench.ts.

import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { DeadlineSignals } from './deadline-signals.js';
import type { LazyAgent } from './lazy-agent.js';

export interface SmallAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The answer's body, when `maxBodyBytes` asked for it ('' otherwise). */
  body: string;
}

export interface SmallPostOptions {
  headers: Record<string, string>;
  body: string;
  /** The whole exchange must end within the DeadlineSignals' timeout (none: only headersTimeout and bodyTimeout bound it). */
  deadlines?: DeadlineSignals | undefined;
  /** Read the answer's body, at most this many bytes (more fails the exchange with `tooLarge()`); unset: the body is discarded. */
  maxBodyBytes?: number;
  tooLarge?: () => Error;
  headersTimeout: number;
  bodyTimeout: number;
}

export function smallPost(agent: LazyAgent, url: URL, options: SmallPostOptions): Promise<SmallAnswer> {
  return new Promise<SmallAnswer>((resolve, reject) => {
    let answer: SmallAnswer | undefined;
    let deadline: { done(): void } | undefined;
    const limit = options.maxBodyBytes;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        deadline?.done();
        deadline = options.deadlines?.track((reason) => controller.abort(reason));
      },
      onResponseStart(_controller, statusCode, headers) {
        answer = { statusCode, headers, body: '' };
        chunks = undefined;
        size = 0;
      },
      onResponseData(controller, chunk) {
        if (limit === undefined) return; // the answer's body is not needed
        size += chunk.length;
        if (size > limit) {
          controller.abort(options.tooLarge?.() ?? new Error(`answer larger than ${limit} bytes`));
          return;
        }
        (chunks ??= []).push(chunk);
      },
      onResponseEnd() {
        deadline?.done();
        if (!answer) {
          reject(new Error('the answer ended without a status'));
          return;
        }
        if (chunks) answer.body = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
        resolve(answer);
      },
      onResponseError(_controller, error) {
        deadline?.done();
        reject(error);
      },
    };
    const fail = (err: Error) => {
      deadline?.done();
      reject(err);
    };
    try {
      agent.dispatch({
        origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: options.headers, body: options.body,
        headersTimeout: options.headersTimeout, bodyTimeout: options.bodyTimeout,
      }, handler, fail);
    } catch (err) {
      fail(err as Error);
    }
  });
}
