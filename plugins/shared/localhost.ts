// "My own host" in a URL a caller sends (localhost, 127.x.y.z, ::1, 0.0.0.0 or
// an empty host) is replaced with the caller's address from the TCP
// connection, keeping the URL's own port, as the original ReplaceLocalhost
// intended (its Go-version-dependent bug is not reproduced).

const LOCAL = /^(localhost|127(\.\d{1,3}){3}|::1|0\.0\.0\.0|)$/i;

/** The peer address as a bare host: IPv4-mapped IPv6 unwrapped, no brackets (what unbracketed() of a URL naming the peer gives). */
export function peerAddress(remoteAddress: string): string {
  // An IPv4 address (nearly every peer on an IPv4 listener) is its own host: no pattern run.
  if (!remoteAddress.includes(':')) return remoteAddress;
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)?.[1] ?? remoteAddress;
}

/** The peer address as a URL host: peerAddress(), IPv6 bracketed. */
export function peerHost(remoteAddress: string): string {
  const address = peerAddress(remoteAddress);
  return address.includes(':') ? `[${address}]` : address;
}

/** A host without IPv6 brackets ("[::1]" → "::1"), as a URL's hostname and an address are compared. */
export function unbracketed(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function isLocalHostname(hostname: string): boolean {
  return LOCAL.test(unbracketed(hostname));
}

export function replaceLocalhost(url: URL | null, remoteAddress: string | undefined): URL | null {
  if (!url || !remoteAddress || url.protocol === 'unix:') return url;
  const hostname = url.hostname;
  const host = peerHost(remoteAddress);
  // Already the caller's address (a local caller naming 127.0.0.1), or not its own host: nothing to replace.
  if (hostname === host || !isLocalHostname(hostname)) return url;
  const rewritten = new URL(url.href);
  rewritten.hostname = host;
  return rewritten;
}
