// The request/response model of the acomm protocol, as the runtime sees it.
// On the wire URLs are Go url.URL objects; inside the runtime they are URLs.

import type { ErrorCode } from './errors.js';

/** A unit of work: "run `task` with `args` and send the answer to `responseHook`". */
export interface Request {
  /** Identity for the request's whole life; echoed in acks and in the response. */
  id: string;
  /** Task name; providers of task T listen in `<socket_dir>/T/`. */
  task: string;
  /** When set, the request is forwarded to this coordinator or socket instead of local providers. */
  taskURL: URL | null;
  /** Where the response must be delivered (unix:, http:, https:, inproc:). */
  responseHook: URL | null;
  /** Input bytes the requester offers, read once by the provider. */
  streamURL: URL | null;
  /** Task arguments: any JSON value, `null` when absent. */
  args: unknown;
}

/** The answer to a request. `error` is a string; empty means success. */
export interface Response {
  id: string;
  result: unknown;
  /** Output bytes available for streaming. */
  streamURL: URL | null;
  /** Error text as it travels on the wire; '' for success. */
  error: string;
  /** Stable code when the error was raised by this runtime (not on the wire). */
  errorCode?: ErrorCode;
}

export function createRequest(fields: Partial<Request> & Pick<Request, 'id' | 'task'>): Request {
  return {
    id: fields.id,
    task: fields.task,
    taskURL: fields.taskURL ?? null,
    responseHook: fields.responseHook ?? null,
    streamURL: fields.streamURL ?? null,
    args: fields.args ?? null,
  };
}

export function successResponse(id: string, result: unknown, streamURL: URL | null = null): Response {
  return { id, result: result ?? null, streamURL, error: '' };
}

export function errorResponse(id: string, error: string, errorCode?: ErrorCode): Response {
  const response: Response = { id, result: null, streamURL: null, error };
  if (errorCode) response.errorCode = errorCode;
  return response;
}

/** The acknowledgement every receiver sends on the connection a message came in on. */
export function ackResponse(id: string, error = ''): Response {
  return { id, result: null, streamURL: null, error };
}
