// Throw-away certificates for TLS tests (openssl, as Debian ships it).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** A self-signed certificate for 127.0.0.1, valid one day. */
export function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}
