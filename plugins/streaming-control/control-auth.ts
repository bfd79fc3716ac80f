// Authentication of a control connection, before the WebSocket upgrade:
// the compact JWT in x-control-auth-token, HMAC-signed (HS256/384/512) with
// CONTROL_SECRET, `sub` equal to the role's subject, `exp`/`nbf` checked when
// present (no leeway; exp stays optional: the Go peers mint tokens with `sub` only).

// jose (177 modules) is loaded by the first control connection, not at start:
// without CONTROL_SECRET no token is ever verified.
let jose: Promise<typeof import('jose')> | undefined;

export type ControlRole = 'rtmp' | 'wss' | 'hls';

export const ROLE_SUBJECT: Record<ControlRole, string> = { rtmp: 'rtmp-control', wss: 'wss-control', hls: 'hls-control' };

export type AuthResult = { ok: true } | { ok: false; reason: string };

export async function verifyControlToken(token: string | undefined, secret: Uint8Array, role: ControlRole): Promise<AuthResult> {
  if (!token) return { ok: false, reason: 'missing x-control-auth-token' };
  const { jwtVerify, errors: joseErrors } = await (jose ??= import('jose'));
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256', 'HS384', 'HS512'], clockTolerance: 0 });
    if (typeof payload.sub !== 'string') return { ok: false, reason: 'token subject is not a string' };
    if (payload.sub !== ROLE_SUBJECT[role]) return { ok: false, reason: `token subject ${payload.sub} is not ${ROLE_SUBJECT[role]}` };
    return { ok: true };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'token expired' };
    if (err instanceof joseErrors.JWTClaimValidationFailed) return { ok: false, reason: `token claim ${err.claim} invalid` };
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return { ok: false, reason: 'token algorithm not allowed' };
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'token signature invalid' };
    return { ok: false, reason: `token invalid: ${(err as Error).message}` };
  }
}
