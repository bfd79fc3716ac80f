// A header's first value: Node joins or arrays repeated headers, the Go servers took the first.
export function firstHeader(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether a header (its name lower-case) is among Node's rawHeaders (name, value, name, value…), in any case. */
export function hasRawHeader(rawHeaders: readonly string[], lowerName: string): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return true;
  }
  return false;
}
