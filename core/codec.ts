// One codec for acomm messages. Reads every spelling found in the wild
// (responseHook/responsehook/response_hook, streamURL/stream_url,
// taskURL/task_url, any key case, URLs as Go objects or strings) and writes
// one: HEAD Go's key order, camelCase keys, URLs as Go objects by default.

import { CoordinatorError } from './errors.js';
import type { Request, Response } from './model.js';
import { readWireUrl, writeWireUrl, type UrlWireForm } from './wire-url.js';

export interface EncodeOptions {
  /** 'object' (default) writes Go url.URL objects, the only form Go peers read. */
  urlForm?: UrlWireForm;
  /** Also write `stream_url`, for peers built before acomm renamed it (opt-in). */
  legacyStreamKey?: boolean;
}

type JsonObject = Record<string, unknown>;

const REQUEST_ALIASES: Record<string, readonly string[]> = {
  id: ['id'],
  task: ['task'],
  taskURL: ['taskURL', 'task_url'],
  responseHook: ['responseHook', 'response_hook'],
  streamURL: ['streamURL', 'stream_url'],
  args: ['args'],
};

const RESPONSE_ALIASES: Record<string, readonly string[]> = {
  id: ['id'],
  result: ['result'],
  streamURL: ['streamURL', 'stream_url'],
  error: ['error'],
};

/** Find a field: exact key first, then any case, then the other spellings. The camelCase key wins. */
function lookup(obj: JsonObject, aliases: readonly string[]): unknown {
  for (const alias of aliases) if (Object.prototype.hasOwnProperty.call(obj, alias)) return obj[alias];
  const lowered = aliases.map((a) => a.toLowerCase());
  for (const alias of lowered) {
    for (const key of Object.keys(obj)) if (key.toLowerCase() === alias) return obj[key];
  }
  return undefined;
}

function parseJson(input: string | Buffer | JsonObject, what: string): JsonObject {
  let value: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const text = typeof input === 'string' ? input : input.toString('utf8');
    if (text.trim() === '') throw new CoordinatorError('ERR_DECODE', 'unexpected end of JSON input');
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new CoordinatorError('ERR_DECODE', (err as Error).message, { cause: err });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CoordinatorError('ERR_DECODE', `${what} must be a JSON object`);
  }
  return value as JsonObject;
}

function readString(obj: JsonObject, aliases: readonly string[], field: string): string {
  const value = lookup(obj, aliases);
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new CoordinatorError('ERR_DECODE', `${field} must be a string`);
  return value;
}

function readUrl(obj: JsonObject, aliases: readonly string[], field: string): URL | null {
  try {
    return readWireUrl(lookup(obj, aliases), field);
  } catch (err) {
    if (err instanceof CoordinatorError) throw new CoordinatorError('ERR_DECODE', err.message, { cause: err });
    throw err;
  }
}

/**
 * Decode a request. Throws CoordinatorError ERR_DECODE (with the id when it
 * could be read) for malformed input; never validates semantics (see validateRequest).
 */
export function decodeRequest(input: string | Buffer | JsonObject): Request {
  const obj = parseJson(input, 'request');
  let id = '';
  try {
    id = readString(obj, REQUEST_ALIASES.id!, 'id');
    return {
      id,
      task: readString(obj, REQUEST_ALIASES.task!, 'task'),
      taskURL: readUrl(obj, REQUEST_ALIASES.taskURL!, 'taskURL'),
      responseHook: readUrl(obj, REQUEST_ALIASES.responseHook!, 'responseHook'),
      streamURL: readUrl(obj, REQUEST_ALIASES.streamURL!, 'streamURL'),
      args: lookup(obj, REQUEST_ALIASES.args!) ?? null,
    };
  } catch (err) {
    if (err instanceof CoordinatorError && id) throw err.withRequestId(id);
    throw err;
  }
}

/** Decode a response. `error` null or absent means success; any other non-string fails. */
export function decodeResponse(input: string | Buffer | JsonObject): Response {
  const obj = parseJson(input, 'response');
  const id = readString(obj, RESPONSE_ALIASES.id!, 'id');
  try {
    return {
      id,
      result: lookup(obj, RESPONSE_ALIASES.result!) ?? null,
      streamURL: readUrl(obj, RESPONSE_ALIASES.streamURL!, 'streamURL'),
      error: readString(obj, RESPONSE_ALIASES.error!, 'error'),
    };
  } catch (err) {
    if (err instanceof CoordinatorError && id) throw err.withRequestId(id);
    throw err;
  }
}

/** Encode a request in HEAD Go's key order: id, task, taskURL, responseHook, streamURL, args. */
export function encodeRequest(request: Request, options: EncodeOptions = {}): string {
  const form = options.urlForm ?? 'object';
  const out: JsonObject = {
    id: request.id,
    task: request.task,
    taskURL: writeWireUrl(request.taskURL, form),
    responseHook: writeWireUrl(request.responseHook, form),
    streamURL: writeWireUrl(request.streamURL, form),
  };
  if (options.legacyStreamKey) out.stream_url = out.streamURL;
  out.args = request.args === undefined ? null : request.args;
  return JSON.stringify(out);
}

/** Encode a response in HEAD Go's key order: error, id, result, streamURL. */
export function encodeResponse(response: Response, options: EncodeOptions = {}): string {
  const form = options.urlForm ?? 'object';
  const out: JsonObject = {
    error: response.error,
    id: response.id,
    result: response.result === undefined ? null : response.result,
    streamURL: writeWireUrl(response.streamURL, form),
  };
  if (options.legacyStreamKey) out.stream_url = out.streamURL;
  return JSON.stringify(out);
}

/** The exact bytes of an ack: {"error":"<err>","id":"<id>","result":null,"streamURL":null}. */
export function encodeAck(id: string, error = ''): string {
  return JSON.stringify({ error, id, result: null, streamURL: null });
}
