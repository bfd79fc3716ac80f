// One codec for acomm messages. Reads every spelling found in the wild
// (responseHook/responsehook/response_hook, streamURL/stream_url,
// taskURL/task_url, any key case, URLs as Go objects or strings) and writes
// one: HEAD Go's key order, camelCase keys, URLs as Go objects by default.

import { CoordinatorError } from './errors.js';
import type { Request, Response } from './model.js';
import { readWireUrl, wireUrlJson, writeWireUrl, type UrlWireForm } from './wire-url.js';
import { DEFAULT_JSON_LIMITS, scanJson, type JsonLimits } from './json-scan.js';
import { plainAcceptance } from './plain-ack.js';

export interface EncodeOptions {
  /** 'object' (default) writes Go url.URL objects, the only form Go peers read. */
  urlForm?: UrlWireForm;
  /** Also write `stream_url`, for peers built before acomm renamed it (opt-in). */
  legacyStreamKey?: boolean;
}

type JsonObject = Record<string, unknown>;

export interface DecodeOptions {
  /** Read only the first JSON value and ignore what follows (Go's stream decoder on a frame). */
  firstValue?: boolean;
  /** Nesting and member limits (default 64 levels, 100,000 members). */
  limits?: JsonLimits;
}

/** A message's fields with their spellings (walked per message), and every spelling lower-cased with its field and rank (for keys in other cases). */
interface AliasTable<K extends string> {
  fields: ReadonlyArray<readonly [K, readonly string[]]>;
  lower: Map<string, { field: K; rank: number }>;
}

/** Built once per message kind, when the module loads. */
function aliasTable<K extends string>(aliases: Record<K, readonly string[]>): AliasTable<K> {
  const fields = (Object.keys(aliases) as K[]).map((field) => [field, aliases[field]] as const);
  const lower = new Map<string, { field: K; rank: number }>();
  for (const [field, spellings] of fields) spellings.forEach((alias, rank) => lower.set(alias.toLowerCase(), { field, rank }));
  return { fields, lower };
}

const REQUEST_FIELDS = aliasTable({
  id: ['id'],
  task: ['task'],
  taskURL: ['taskURL', 'task_url'],
  responseHook: ['responseHook', 'response_hook'],
  streamURL: ['streamURL', 'stream_url'],
  args: ['args'],
});

const RESPONSE_FIELDS = aliasTable({
  id: ['id'],
  result: ['result'],
  streamURL: ['streamURL', 'stream_url'],
  error: ['error'],
});

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Read the fields: exact key first, then any case, then the other spellings
 * (the camelCase key wins). The case-insensitive fallback walks the keys once,
 * whatever their number, and only when some key of the object matched no
 * alias exactly: a field can be found under another case only through such a
 * key (no two fields share an alias in any case).
 */
function lookupAll<K extends string>(obj: JsonObject, table: AliasTable<K>): Record<K, unknown> {
  const out = {} as Record<K, unknown>;
  let missing = false;
  let exact = 0;
  const { fields } = table;
  for (let f = 0; f < fields.length; f += 1) {
    const [field, spellings] = fields[f]!;
    let found = false;
    for (let a = 0; a < spellings.length; a += 1) {
      const alias = spellings[a]!;
      if (hasOwn.call(obj, alias)) {
        out[field] = obj[alias];
        found = true;
        exact += 1;
        break;
      }
    }
    if (!found) missing = true;
  }
  if (!missing) return out;
  // The keys are listed once (a large object is not enumerated twice): when each is an exact match, nothing is left to find.
  const keys = Object.keys(obj);
  if (keys.length === exact) return out;
  const best = new Map<K, number>();
  for (const key of keys) {
    const hit = table.lower.get(key.toLowerCase());
    // A field found by an exact key keeps it (out holds it, and best does not).
    if (!hit || (hasOwn.call(out, hit.field) && !best.has(hit.field))) continue;
    const rank = best.get(hit.field);
    if (rank === undefined || hit.rank < rank) {
      best.set(hit.field, hit.rank);
      out[hit.field] = obj[key];
    }
  }
  return out;
}

function parseJson(input: string | Buffer | JsonObject, what: string, options: DecodeOptions): JsonObject {
  let value: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    let text = typeof input === 'string' ? input : input.toString('utf8');
    if (text.trim() === '') throw new CoordinatorError('ERR_DECODE', 'unexpected end of JSON input');
    const end = scanJson(text, options.limits ?? DEFAULT_JSON_LIMITS);
    if (options.firstValue && end < text.length) text = text.slice(0, end);
    try {
      value = JSON.parse(text);
    } catch (err) {
      // V8's messages quote the input; keep only what is wrong, never a copy of the bytes.
      const message = (err as Error).message.replace(/^(Unexpected (?:token|non-whitespace character|end)[^,"]*).*$/s, '$1');
      throw new CoordinatorError('ERR_DECODE', `invalid JSON: ${message}`, { cause: err });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CoordinatorError('ERR_DECODE', `${what} must be a JSON object`);
  }
  return value as JsonObject;
}

function asString(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new CoordinatorError('ERR_DECODE', `${field} must be a string`);
  return value;
}

function asUrl(value: unknown, field: string): URL | null {
  try {
    return readWireUrl(value, field);
  } catch (err) {
    if (err instanceof CoordinatorError) throw new CoordinatorError('ERR_DECODE', err.message, { cause: err });
    throw err;
  }
}

/**
 * Decode a request. Throws CoordinatorError ERR_DECODE (with the id when it
 * could be read) for malformed input, ERR_BAD_REQUEST past the JSON limits;
 * never validates semantics (see validateRequest).
 */
export function decodeRequest(input: string | Buffer | JsonObject, options: DecodeOptions = {}): Request {
  const obj = parseJson(input, 'request', options);
  const fields = lookupAll(obj, REQUEST_FIELDS);
  let id = '';
  try {
    id = asString(fields.id, 'id');
    return {
      id,
      task: asString(fields.task, 'task'),
      taskURL: asUrl(fields.taskURL, 'taskURL'),
      responseHook: asUrl(fields.responseHook, 'responseHook'),
      streamURL: asUrl(fields.streamURL, 'streamURL'),
      args: fields.args ?? null,
    };
  } catch (err) {
    if (err instanceof CoordinatorError && id) throw err.withRequestId(id);
    throw err;
  }
}

/** Decode a response. `error` null or absent means success; any other non-string fails. */
export function decodeResponse(input: string | Buffer | JsonObject, options: DecodeOptions = {}): Response {
  const obj = parseJson(input, 'response', options);
  const fields = lookupAll(obj, RESPONSE_FIELDS);
  const id = asString(fields.id, 'id');
  try {
    return {
      id,
      result: fields.result ?? null,
      streamURL: asUrl(fields.streamURL, 'streamURL'),
      error: asString(fields.error, 'error'),
    };
  } catch (err) {
    if (err instanceof CoordinatorError && id) throw err.withRequestId(id);
    throw err;
  }
}

/**
 * The JSON text of a value inside an object, as JSON.stringify writes it
 * there; undefined when it would leave the member out (a function, a symbol:
 * only in-process callers can pass such values).
 */
function memberJson(value: unknown): string | undefined {
  return JSON.stringify(value === undefined ? null : value);
}

/** Encode a request in HEAD Go's key order: id, task, taskURL, responseHook, streamURL, args. */
export function encodeRequest(request: Request, options: EncodeOptions = {}): string {
  const form = options.urlForm ?? 'object';
  // Put together from its members' texts: the URLs' are made once per URL (the same bytes as JSON.stringify of the whole).
  const args = memberJson(request.args);
  if (args !== undefined && !options.legacyStreamKey && typeof request.id === 'string' && typeof request.task === 'string') {
    return `{"id":${JSON.stringify(request.id)},"task":${JSON.stringify(request.task)},"taskURL":${wireUrlJson(request.taskURL, form)},"responseHook":${wireUrlJson(request.responseHook, form)},"streamURL":${wireUrlJson(request.streamURL, form)},"args":${args}}`;
  }
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
  const result = memberJson(response.result);
  if (result !== undefined && !options.legacyStreamKey && typeof response.error === 'string' && typeof response.id === 'string') {
    return `{"error":${JSON.stringify(response.error)},"id":${JSON.stringify(response.id)},"result":${result},"streamURL":${wireUrlJson(response.streamURL, form)}}`;
  }
  const out: JsonObject = {
    error: response.error,
    id: response.id,
    result: response.result === undefined ? null : response.result,
    streamURL: writeWireUrl(response.streamURL, form),
  };
  if (options.legacyStreamKey) out.stream_url = out.streamURL;
  return JSON.stringify(out);
}

const VERBATIM = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** Whether JSON.stringify writes the string as it is between quotes: no quote, backslash, control character or surrogate (which it escapes). */
export function writesVerbatim(text: string): boolean {
  return VERBATIM.test(text);
}

/** The exact bytes of an ack: {"error":"<err>","id":"<id>","result":null,"streamURL":null}. */
export function encodeAck(id: string, error = ''): string {
  // The acceptance of an id that needs no escaping (nearly every ack) is put together, not serialised: the same text.
  if (error === '' && writesVerbatim(id)) return plainAcceptance(id);
  return JSON.stringify({ error, id, result: null, streamURL: null });
}
