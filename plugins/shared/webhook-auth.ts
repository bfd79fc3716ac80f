// The Authorization header the original sent to the application, by mode
// (compared case-insensitively): Basic user:password, Bearer token, Custom
// raw value, anything else none.

export type WebhookAuthMode = 'none' | 'basic' | 'bearer' | 'custom';

export interface WebhookAuth {
  mode: WebhookAuthMode;
  user?: string;
  password?: string;
  token?: string;
  custom?: string;
}

export function parseAuthMode(value: string | undefined): WebhookAuthMode {
  const lowered = (value ?? '').trim().toLowerCase();
  return lowered === 'basic' || lowered === 'bearer' || lowered === 'custom' ? lowered : 'none';
}

export function authorizationHeader(auth: WebhookAuth): string | undefined {
  switch (auth.mode) {
    case 'basic': return `Basic ${Buffer.from(`${auth.user ?? ''}:${auth.password ?? ''}`).toString('base64')}`;
    case 'bearer': return `Bearer ${auth.token ?? ''}`;
    case 'custom': return auth.custom ?? '';
    default: return undefined;
  }
}

/** Option fields every webhook-calling plugin shares (url and its authorization). */
export interface WebhookOptions {
  url: string;
  auth: WebhookAuthMode;
  user: string;
  password: string;
  token: string;
  custom: string;
}

/** An auth mode in any case, as the variables spell it ('Bearer') or the docs ('bearer'). */
export const AUTH_MODE_SCHEMA = { enum: ['none', 'basic', 'bearer', 'custom', 'None', 'Basic', 'Bearer', 'Custom', 'NONE', 'BASIC', 'BEARER', 'CUSTOM'] } as const;

/** JSON-schema properties of WebhookOptions, naming the variables of `prefix` (KEY_VERIFICATION, EVENT_CALLBACK). */
export function webhookOptionsSchema(prefix: string) {
  return {
    url: { description: 'The URL to POST to; empty: off.', env: `${prefix}_URL`, type: 'string', default: '' },
    auth: { description: 'Authorization mode, any case: none, basic, bearer, custom.', env: `${prefix}_AUTH`, ...AUTH_MODE_SCHEMA, default: 'none' },
    user: { description: 'Basic: the user name.', env: `${prefix}_AUTH_USER`, type: 'string', default: '' },
    password: { description: "Basic: the password (the original's variable has no _AUTH).", env: `${prefix}_PASSWORD`, type: 'string', default: '' },
    token: { description: 'Bearer: the token.', env: `${prefix}_AUTH_TOKEN`, type: 'string', default: '' },
    custom: { description: 'Custom: the whole Authorization header value.', env: `${prefix}_AUTH_CUSTOM`, type: 'string', default: '' },
  } as const;
}

/**
 * The original's variables for one webhook: <P>_URL, <P>_AUTH, <P>_AUTH_USER,
 * <P>_PASSWORD (not _AUTH_PASSWORD: the original's spelling), <P>_AUTH_TOKEN,
 * <P>_AUTH_CUSTOM, with P = KEY_VERIFICATION or EVENT_CALLBACK.
 */
export function webhookEnv(env: Record<string, string | undefined>, prefix: string): Partial<WebhookOptions> {
  return {
    url: env[`${prefix}_URL`],
    auth: env[`${prefix}_AUTH`] !== undefined ? parseAuthMode(env[`${prefix}_AUTH`]) : undefined,
    user: env[`${prefix}_AUTH_USER`],
    password: env[`${prefix}_PASSWORD`],
    token: env[`${prefix}_AUTH_TOKEN`],
    custom: env[`${prefix}_AUTH_CUSTOM`],
  };
}

export function webhookAuthorization(options: WebhookOptions): string | undefined {
  return authorizationHeader({ mode: parseAuthMode(options.auth), user: options.user, password: options.password, token: options.token, custom: options.custom });
}

/** Problems of a webhook's options that would otherwise surface only at the first call. */
export function webhookProblems(options: WebhookOptions, variable: string): Array<{ path: string; message: string }> {
  if (!options.url) return [];
  let url: URL | undefined;
  try {
    url = new URL(options.url);
  } catch {
    return [{ path: 'url', message: `${JSON.stringify(options.url)} is not a URL (${variable}): write an absolute http(s) URL` }];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return [{ path: 'url', message: `${url.protocol} is not http: or https: (${variable})` }];
  return [];
}
