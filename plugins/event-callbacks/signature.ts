// Optional HMAC-SHA256 signature of a callback, so the application can reject
// forged or replayed callbacks:
//
//   x-coordinator-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]
//
// v1 = HMAC-SHA256(secret, "<t>.<delivery id>.<body>"), one per configured
// secret (two during a rotation). The body is the event as JSON.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-coordinator-signature';

export function sign(secrets: string[], timestampSec: number, deliveryId: string, body: string): string {
  const parts = [`t=${timestampSec}`];
  for (const secret of secrets) parts.push(`v1=${createHmac('sha256', secret).update(`${timestampSec}.${deliveryId}.${body}`).digest('hex')}`);
  return parts.join(',');
}

/**
 * Verify a signature as an application would: any v1 matching any of our
 * secrets, and a timestamp within `toleranceSec` of now.
 */
export function verifySignature(header: string, secrets: string[], deliveryId: string, body: string, toleranceSec = 300, nowSec = Math.floor(Date.now() / 1000)): boolean {
  const fields = header.split(',').map((p) => p.trim().split('='));
  const t = Number(fields.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec) return false;
  const given = fields.filter(([k]) => k === 'v1').map(([, v]) => Buffer.from(v ?? '', 'hex'));
  return secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(`${t}.${deliveryId}.${body}`).digest();
    return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
  });
}
