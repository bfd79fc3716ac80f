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
