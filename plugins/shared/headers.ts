// A header's first value: Node joins or arrays repeated headers, the Go servers took the first.
export function firstHeader(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
