import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMessage, serializeMessage } from '../../index.js';
import { arg } from '../../plugins/streaming-control/messages.js';

describe('control message format', () => {
  it('parses as the Go peers do: case-insensitive type and names, first colon, body after a blank line', () => {
    const m = parseMessage('publish-request\r\nRequest-ID : 7\r\nstream-channel:ch:1\nNoColon\n:leading\n\nBody-Arg:ignored');
    assert.equal(m.type, 'PUBLISH-REQUEST');
    assert.equal(m.args.get('request-id'), '7');
    assert.equal(m.args.get('stream-channel'), 'ch:1');
    assert.equal(m.args.has('body-arg'), false);
    assert.equal(m.args.size, 2);
  });

  it('a blank line right after the type makes the rest body (the docs pitfall)', () => {
    assert.equal(parseMessage('REGISTER\n\nCapacity:10\n').args.size, 0);
  });

  it('never throws on garbage', () => {
    for (const text of ['', '\n\n\n', ':::', '\u0000\u0001', 'X'.repeat(10_000)]) assert.doesNotThrow(() => parseMessage(text));
  });

  it('serialises strictly and a value with line breaks cannot inject an argument', () => {
    assert.equal(serializeMessage('PUBLISH-DENY', { 'Request-ID': '7', 'Stream-Channel': 'ch1' }), 'PUBLISH-DENY\nRequest-ID:7\nStream-Channel:ch1\n');
    const injected = serializeMessage('STREAM-KILL', { 'Stream-Channel': 'ch1\nStream-ID:*', 'Stream-ID': 'x\r\n' });
    assert.equal(injected, 'STREAM-KILL\nStream-Channel:ch1Stream-ID:*\nStream-ID:x\n');
    assert.equal(parseMessage(injected).args.get('stream-id'), 'x');
  });
  /** The parser as first written (split into lines, a regex to trim): the reference the faster one must equal. */
  function reference(text: string): { type: string; args: Array<[string, string]> } {
    const edge = /^[ \t\r\n]+|[ \t\r\n]+$/g;
    const lines = text.split('\n');
    const args = new Map<string, string>();
    for (let i = 1; i < lines.length; i += 1) {
      const line = lines[i]!;
      if (line === '') break;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      args.set(line.slice(0, colon).replace(edge, '').toLowerCase(), line.slice(colon + 1).replace(edge, ''));
    }
    return { type: (lines[0] ?? '').replace(edge, '').toUpperCase(), args: [...args] };
  }

  it('reads every text as the line-splitting reference does (known and unknown names, any case, blank lines, CRLF, edges)', () => {
    const piece = fc.constantFrom('\n', '\r\n', '\r', ':', ' ', '\t', 'Request-ID', 'request-id', 'REQUEST-ID', 'Stream-Channel', 'Capacity', 'Index-file', 'X-Other', 'v', 'é', '\u0000');
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }).map((parts) => parts.join('')), (text) => {
      const m = parseMessage(text);
      assert.deepEqual({ type: m.type, args: [...m.args] }, reference(text));
    }), { numRuns: 3000 });
  });

  it('arg() finds a name in any case, known to the protocol or not', () => {
    const m = parseMessage('PUBLISH-REQUEST\nrequest-ID:7\nX-Custom-Thing: v \n');
    assert.equal(arg(m, 'Request-ID'), '7');
    assert.equal(arg(m, 'REQUEST-ID'), '7');
    assert.equal(arg(m, 'x-custom-thing'), 'v');
    assert.equal(arg(m, 'X-CUSTOM-THING'), 'v');
    assert.equal(arg(m, 'Stream-Key'), '');
  });
});
