// A POST with a small body whose answer's status and headers are what counts
// (a key verification, a callback): undici's dispatch API with a handler that
// discards the answer's body, instead of request(), which builds a body
// stream and a promise chain per call. Measured on the publish path (a
// verification per publish): see bench/publish.bench.ts.

import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { DeadlineSignals } from './deadline-signals.js';

export interface SmallAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
}

export interface SmallPostOptions {
  headers: Record<string, string>;
  body: string;
  /** The whole exchange must end within the DeadlineSignals' timeout. */
  deadlines: DeadlineSignals;
  headersTimeout: number;
  bodyTimeout: number;
}

export function smallPost(dispatcher: Dispatcher, url: URL, options: SmallPostOptions): Promise<SmallAnswer> {
  return new Promise<SmallAnswer>((resolve, reject) => {
    let answer: SmallAnswer | undefined;
    let deadline: { done(): void } | undefined;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        deadline?.done();
        deadline = options.deadlines.track((reason) => controller.abort(reason));
      },
      onResponseStart(_controller, statusCode, headers) {
        answer = { statusCode, headers };
      },
      onResponseData() {
        // the answer's body is not needed
      },
      onResponseEnd() {
        deadline?.done();
        if (answer) resolve(answer);
        else reject(new Error('the answer ended without a status'));
      },
      onResponseError(_controller, error) {
        deadline?.done();
        reject(error);
      },
    };
    try {
      dispatcher.dispatch({
        origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: options.headers, body: options.body,
        headersTimeout: options.headersTimeout, bodyTimeout: options.bodyTimeout,
      }, handler);
    } catch (err) {
      deadline?.done();
      reject(err as Error);
    }
  });
}
