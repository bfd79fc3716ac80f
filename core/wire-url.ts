// URLs on the acomm wire. Go peers put every URL as the JSON object of Go's
// url.URL struct and cannot read a plain string back; newer clients may send
// strings. We read both and hand the runtime a WHATWG URL.

import { CoordinatorError } from './errors.js';

/** The JSON object Go's encoding/json writes for a *url.URL (Go 1.19 key set). */
export interface GoURLObject {
  Scheme: string;
  Opaque: string;
  User: null;
  Host: string;
  Path: string;
  RawPath: string;
  OmitHost: boolean;
  ForceQuery: boolean;
  RawQuery: string;
  Fragment: string;
  RawFragment: string;
}

export type UrlWireForm = 'object' | 'string';

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** Parse a URL string by Go's request-URI rules: absolute URL or absolute path. */
export function parseWireUrlString(text: string): URL {
  if (text === '') throw new CoordinatorError('ERR_BAD_URL', 'empty url');
  if (!SCHEME.test(text)) throw new CoordinatorError('ERR_BAD_URL', 'invalid URI for request', { details: { url: text } });
  try {
    return new URL(withHostPlaceholder(text));
  } catch (cause) {
    throw new CoordinatorError('ERR_BAD_URL', `invalid url: ${clip(text)}`, { cause });
  }
}

/** Error texts quote at most this much of what a peer sent. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function pickKey(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

function stringField(obj: Record<string, unknown>, name: string): string {
  const value = pickKey(obj, name);
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new CoordinatorError('ERR_BAD_URL', `url field ${name} must be a string`);
  return value;
}

/** Characters encodeURIComponent leaves as they are, and the path's slashes. */
const PLAIN_PATH = /^[A-Za-z0-9\-_.!~*'()/]*$/;

/** Each segment of a path percent-encoded (a path that needs none, nearly every one, is returned as it is). */
function escapePath(path: string): string {
  return PLAIN_PATH.test(path) ? path : path.split('/').map(encodeURIComponent).join('/');
}

/** Build a URL from a Go url.URL object (any subset of keys, any case). */
export function urlFromGoObject(obj: Record<string, unknown>): URL {
  const scheme = stringField(obj, 'Scheme');
  const host = stringField(obj, 'Host');
  const path = stringField(obj, 'Path');
  const rawPath = stringField(obj, 'RawPath');
  const rawQuery = stringField(obj, 'RawQuery');
  const fragment = stringField(obj, 'Fragment');
  const opaque = stringField(obj, 'Opaque');
  const forceQuery = pickKey(obj, 'ForceQuery') === true;
  if (!scheme) throw new CoordinatorError('ERR_BAD_URL', 'url object without a scheme');
  const escapedPath = rawPath || escapePath(path);
  let text = opaque ? `${scheme}:${opaque}` : withHostPlaceholder(`${scheme}://${host}${escapedPath}`);
  if (rawQuery || forceQuery) text += `?${rawQuery}`;
  if (fragment) text += `#${encodeURIComponent(fragment)}`;
  try {
    return new URL(text);
  } catch (cause) {
    throw new CoordinatorError('ERR_BAD_URL', `invalid url object: ${clip(text)}`, { cause });
  }
}

/** What may follow an empty host: a port, a path, a query, a fragment. */
const HOST_FOLLOWERS = new Set([0x3a, 0x2f, 0x3f, 0x23]);

/**
 * Go clients name "my own host" with an empty host (`http://:4080/response`,
 * as coordinator-cli does); WHATWG URLs cannot hold an empty http host, so it
 * becomes `localhost`, which the ingress rewrites to the caller's address
 * exactly like an empty host.
 */
function withHostPlaceholder(text: string): string {
  // Only http://X or https://X with X one of : / ? # or nothing can match: anything else is returned without running the pattern.
  if ((text.charCodeAt(0) | 0x20) !== 0x68 || (text.charCodeAt(3) | 0x20) !== 0x70) return text;
  const colon = text.charCodeAt(4) === 0x3a ? 4 : text.charCodeAt(5) === 0x3a ? 5 : -1;
  if (colon < 0) return text;
  const next = colon + 3;
  if (next < text.length && !HOST_FOLLOWERS.has(text.charCodeAt(next))) return text;
  return text.replace(/^(https?):\/\/(?=[:/?#]|$)/i, '$1://localhost');
}

/** decodeURIComponent that reports bad percent-encoding as ERR_BAD_URL instead of a JavaScript URIError. */
export function decodeUrlPart(text: string): string {
  // Without a percent sign there is nothing to decode and nothing that can fail.
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new CoordinatorError('ERR_BAD_URL', 'invalid percent-encoding in url', { cause });
  }
}

/** Every part the runtime decodes later must decode now, so a bad URL is refused at the door. */
function checked(url: URL): URL {
  decodeUrlPart(url.pathname);
  if (url.hash) decodeUrlPart(url.hash.slice(1));
  return url;
}

/** Read a URL field as found on the wire: null, a Go object or a string. */
export function readWireUrl(value: unknown, field: string): URL | null {
  if (value === undefined || value === null) return null;
  try {
    if (typeof value === 'string') return checked(parseWireUrlString(value));
    if (typeof value === 'object' && !Array.isArray(value)) return checked(urlFromGoObject(value as Record<string, unknown>));
  } catch (err) {
    // URIError (a lone surrogate, bad escapes) and the like: a bad URL, never a JavaScript message.
    const message = err instanceof CoordinatorError ? err.message : 'invalid characters in url';
    throw new CoordinatorError('ERR_BAD_URL', `${field}: ${message}`, { cause: err });
  }
  throw new CoordinatorError('ERR_BAD_URL', `${field}: expected a URL object or string`);
}

/** The path a unix: URL names (decoded), as Go dials it. */
export function unixSocketPath(url: URL): string {
  return decodeUrlPart(url.pathname);
}

function hostOf(url: URL): string {
  return url.host;
}

/** Write a URL in Go's url.URL object form, the only form Go peers read. */
export function toGoObject(url: URL): GoURLObject {
  const path = decodeUrlPart(url.pathname);
  const canonical = escapePath(path);
  return {
    Scheme: url.protocol.slice(0, -1),
    Opaque: '',
    User: null,
    Host: hostOf(url),
    Path: path,
    RawPath: canonical === url.pathname ? '' : url.pathname,
    OmitHost: false,
    ForceQuery: false,
    RawQuery: url.search.startsWith('?') ? url.search.slice(1) : '',
    Fragment: url.hash.startsWith('#') ? decodeUrlPart(url.hash.slice(1)) : '',
    RawFragment: '',
  };
}

// The Go form of a URL sent again and again (the unix transport's response
// hook is one URL object for every forwarded request), made once per URL
// object and href (a URL changed since is made again), with its JSON text.
interface GoForm { href: string; object: Readonly<GoURLObject>; json?: string }
const goForms = new WeakMap<URL, GoForm>();

function goForm(url: URL, href: string): GoForm {
  const cached = goForms.get(url);
  if (cached !== undefined && cached.href === href) return cached;
  const made: GoForm = { href, object: Object.freeze(toGoObject(url)) };
  goForms.set(url, made);
  return made;
}

export function writeWireUrl(url: URL | null, form: UrlWireForm): Readonly<GoURLObject> | string | null {
  if (url === null) return null;
  const href = url.href;
  return form === 'object' ? goForm(url, href).object : href;
}

/** The JSON text of writeWireUrl's value (what JSON.stringify writes for it), the Go form's made once per URL. */
export function wireUrlJson(url: URL | null, form: UrlWireForm): string {
  if (url === null) return 'null';
  const href = url.href;
  if (form !== 'object') return JSON.stringify(href);
  const made = goForm(url, href);
  return (made.json ??= JSON.stringify(made.object));
}

/** Build a unix: URL for a socket path. */
export function unixUrl(socketPath: string): URL {
  return new URL(`unix://${escapePath(socketPath)}`);
}

/** The URL scheme without the colon: 'unix', 'http', 'https', 'inproc'. */
export function schemeOf(url: URL): string {
  return url.protocol.slice(0, -1);
}

/** Whether a scheme (schemeOf's form) is one of HTTP's: 'http' or 'https'. */
export function isHttpScheme(scheme: string): boolean {
  return scheme === 'http' || scheme === 'https';
}
