import assert from 'node:assert/strict';
import { parseMessage, serializeMessage } from '../../index.js';

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
});
