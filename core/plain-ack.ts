// The ack every acomm peer writes for an accepted message, byte for byte:
// {"error":"","id":"<id>","result":null,"streamURL":null}, with an id free of
// quotes, backslashes and control characters. Its error is '' with no JSON
// decoding: senders (a unix send's ack, an HTTP hook's answer) check this
// first and decode only any other ack, even one meaning the same.

const HEAD = '{"error":"","id":"';
const TAIL = '","result":null,"streamURL":null}';
const HEAD_BYTES = Buffer.from(HEAD);
const TAIL_BYTES = Buffer.from(TAIL);

/** The plain acceptance of `id`, put together (the caller knows the id needs no escaping: codec.ts encodeAck). */
export function plainAcceptance(id: string): string {
  return HEAD + id + TAIL;
}

/** Whether the id's code unit (or byte) makes the ack another one: a quote, a backslash or a control character. */
function spoilsId(code: number): boolean {
  return code === 0x22 || code === 0x5c || code < 0x20;
}

/** The ack's bytes are the plain acceptance. */
export function isPlainAcceptance(ack: Buffer): boolean {
  const tailAt = ack.length - TAIL_BYTES.length;
  if (tailAt < HEAD_BYTES.length) return false;
  if (ack.compare(HEAD_BYTES, 0, HEAD_BYTES.length, 0, HEAD_BYTES.length) !== 0) return false;
  if (ack.compare(TAIL_BYTES, 0, TAIL_BYTES.length, tailAt, ack.length) !== 0) return false;
  for (let i = HEAD_BYTES.length; i < tailAt; i += 1) if (spoilsId(ack[i]!)) return false;
  return true;
}

/** The ack's text is the plain acceptance. */
export function isPlainAcceptanceText(ack: string): boolean {
  const tailAt = ack.length - TAIL.length;
  if (tailAt < HEAD.length || !ack.startsWith(HEAD) || !ack.endsWith(TAIL)) return false;
  for (let i = HEAD.length; i < tailAt; i += 1) if (spoilsId(ack.charCodeAt(i))) return false;
  return true;
}
