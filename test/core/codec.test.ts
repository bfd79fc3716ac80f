import assert from 'node:assert/strict';
import { decodeRequest, decodeResponse, encodeAck, encodeRequest, encodeResponse, CoordinatorError } from '../../index.js';
import { readWireUrl, toGoObject, unixUrl, writeWireUrl } from '../../core/wire-url.js';
import fc from 'fast-check';
import type { Request, Response } from '../../core/model.js';

const GO_HOOK = {
  Scheme: 'unix', Opaque: '', User: null, Host: '', Path: '/tmp/cerana/response/coord1.sock', RawPath: '',
  OmitHost: false, ForceQuery: false, RawQuery: '', Fragment: '', RawFragment: '',
};

describe('codec', () => {
  it('writes the empty ack as exactly the bytes Go writes', () => {
    const ack = encodeAck('', '');
    assert.equal(ack, '{"error":"","id":"","result":null,"streamURL":null}');
    assert.equal(Buffer.byteLength(ack), 0x33);
  });

  it('writes every ack as JSON.stringify would, whatever the id and error (the put-together acceptance included)', () => {
    const serialised = (id: string, error: string) => JSON.stringify({ error, id, result: null, streamURL: null });
    for (const id of ['r1', 'q"uote', 'back\\slash', 'tab\tx', '\ud800lone', 'pair\ud83d\ude00', 'ü€', '\u2028']) {
      assert.equal(encodeAck(id, ''), serialised(id, ''), id);
    }
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), fc.oneof(fc.constant(''), fc.string()), (id, error) => {
      assert.equal(encodeAck(id, error), serialised(id, error));
    }), { numRuns: 3000 });
  });

  it('reads a HEAD Go request with URL objects', () => {
    const req = decodeRequest(JSON.stringify({ id: 'r1', task: 'CPUInfo', taskURL: null, responseHook: GO_HOOK, streamURL: null, args: { guest_id: 'g1' } }));
    assert.equal(req.id, 'r1');
    assert.equal(req.task, 'CPUInfo');
    assert.equal(req.responseHook?.protocol, 'unix:');
    assert.equal(req.responseHook?.pathname, '/tmp/cerana/response/coord1.sock');
    assert.deepEqual(req.args, { guest_id: 'g1' });
    assert.equal(req.taskURL, null);
  });

  it('reads the seed spellings responsehook and stream_url, and any key case', () => {
    const req = decodeRequest({ ID: 'a', TASK: 'T', responsehook: 'http://localhost:4080/response', stream_url: 'http://localhost:4080/stream', Args: [1] });
    assert.equal(req.id, 'a');
    assert.equal(req.task, 'T');
    assert.equal(req.responseHook?.href, 'http://localhost:4080/response');
    assert.equal(req.streamURL?.href, 'http://localhost:4080/stream');
    assert.deepEqual(req.args, [1]);
    const snake = decodeRequest({ id: 'b', task: 'T', response_hook: 'unix:///x.sock', task_url: 'http://127.0.0.1:1/x' });
    assert.equal(snake.responseHook?.pathname, '/x.sock');
    assert.equal(snake.taskURL?.href, 'http://127.0.0.1:1/x');
  });

  it('prefers the camelCase key when both spellings appear', () => {
    const req = decodeRequest({ id: 'a', task: 'T', streamURL: 'unix:///camel.sock', stream_url: 'unix:///snake.sock' });
    assert.equal(req.streamURL?.pathname, '/camel.sock');
  });

  it('accepts URL objects with a subset of keys in any case', () => {
    const req = decodeRequest({ id: 'a', task: 'T', responseHook: { scheme: 'http', host: 'localhost:19090', path: '/min' } });
    assert.equal(req.responseHook?.href, 'http://localhost:19090/min');
  });

  it('writes requests in Go key order with URL objects', () => {
    const req = decodeRequest({ id: 'r1', task: 'T', responseHook: 'unix:///tmp/cerana/response/coord1.sock' });
    const text = encodeRequest(req);
    assert.equal(text, `{"id":"r1","task":"T","taskURL":null,"responseHook":${JSON.stringify(GO_HOOK)},"streamURL":null,"args":null}`);
  });

  it('writes a URL with a query as Go does', () => {
    const req = decodeRequest({ id: 'r', task: 'T', responseHook: 'http://localhost:8080/stream?addr=unix%3A%2F%2F%2Ftmp%2Fx.sock' });
    const obj = JSON.parse(encodeRequest(req)).responseHook;
    assert.equal(obj.Host, 'localhost:8080');
    assert.equal(obj.Path, '/stream');
    assert.equal(obj.RawQuery, 'addr=unix%3A%2F%2F%2Ftmp%2Fx.sock');
    assert.equal(obj.User, null);
  });

  it('writes string URLs and the legacy stream key on request', () => {
    const req = decodeRequest({ id: 'r', task: 'T', responseHook: 'unix:///a.sock', streamURL: 'unix:///s.sock' });
    const obj = JSON.parse(encodeRequest(req, { urlForm: 'string', legacyStreamKey: true }));
    assert.equal(obj.responseHook, 'unix:///a.sock');
    assert.equal(obj.streamURL, 'unix:///s.sock');
    assert.equal(obj.stream_url, 'unix:///s.sock');
  });

  it('writes responses in Go key order with error as a string', () => {
    assert.equal(encodeResponse({ id: 'x', result: [1], streamURL: null, error: '' }), '{"error":"","id":"x","result":[1],"streamURL":null}');
  });

  it('reads error null, absent and string; rejects a non-string error', () => {
    assert.equal(decodeResponse('{"id":"a","error":null}').error, '');
    assert.equal(decodeResponse('{"id":"a"}').error, '');
    assert.equal(decodeResponse('{"id":"a","error":"boom"}').error, 'boom');
    assert.throws(() => decodeResponse('{"id":"a","error":{"a":1}}'), (err: unknown) => err instanceof CoordinatorError && err.code === 'ERR_DECODE' && err.requestId === 'a');
  });

  it('rejects malformed input with ERR_DECODE and a clear message, never a crash', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /unexpected end of JSON input/],
      ['{"id": x}', /JSON/],
      ['null', /must be a JSON object/],
      ['[1,2]', /must be a JSON object/],
      ['{"id": 5}', /id must be a string/],
      ['{"id":"a","task":"T","responseHook":"asdf"}', /responseHook: invalid URI for request/],
      ['{"id":"a","task":"T","responseHook":""}', /responseHook: empty url/],
      ['{"id":"a","task":"T","responseHook":42}', /responseHook: expected a URL object or string/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => decodeRequest(input), (err: unknown) => {
        assert.ok(err instanceof CoordinatorError, `not a CoordinatorError for ${input}`);
        assert.equal(err.code, 'ERR_DECODE', input);
        assert.match(err.message, message, input);
        return true;
      });
    }
  });

  it('keeps the request id on decode errors that come after the id', () => {
    assert.throws(() => decodeRequest('{"id":"keep","responseHook":"asdf"}'), (err: unknown) => err instanceof CoordinatorError && err.requestId === 'keep');
  });

  it('round-trips unix://asdf and http URLs unchanged', () => {
    for (const href of ['unix://asdf', 'http://asdf/', 'https://asdf/']) {
      const req = decodeRequest({ id: 'a', task: 'T', responseHook: href });
      const again = decodeRequest(encodeRequest(req));
      assert.equal(again.responseHook?.href, req.responseHook?.href);
    }
  });

  it('writes a URL sent with every request once, and again only when the URL changed', () => {
    const hook = new URL('unix:///tmp/cerana/response/coord1.sock');
    const request = (n: number) => ({ id: `r${n}`, task: 'T', taskURL: null, responseHook: hook, streamURL: null, args: null });
    const first = writeWireUrl(hook, 'object');
    assert.deepEqual(first, GO_HOOK);
    assert.equal(writeWireUrl(hook, 'object'), first, 'the Go form was made again for the same URL');
    assert.ok(Object.isFrozen(first));
    assert.equal(JSON.parse(encodeRequest(request(1))).responseHook.Path, '/tmp/cerana/response/coord1.sock');
    hook.pathname = '/tmp/other.sock';
    assert.equal((writeWireUrl(hook, 'object') as { Path: string }).Path, '/tmp/other.sock');
    assert.equal(JSON.parse(encodeRequest(request(2))).responseHook.Path, '/tmp/other.sock');
  });

  it('finds each field by the same rule whatever the keys (exact spelling first, camelCase first, then any case): property test', () => {
    // The rule, written plainly: a field takes its first alias present exactly; a field with none takes, among keys equal to one of its aliases in another case, the one of the earliest alias.
    const requestAliases = { id: ['id'], task: ['task'], taskURL: ['taskURL', 'task_url'], responseHook: ['responseHook', 'response_hook'], streamURL: ['streamURL', 'stream_url'], args: ['args'] };
    const responseAliases = { id: ['id'], result: ['result'], streamURL: ['streamURL', 'stream_url'], error: ['error'] };
    const rule = (obj: Record<string, unknown>, aliases: Record<string, string[]>) => {
      const out: Record<string, unknown> = {};
      for (const [field, names] of Object.entries(aliases)) {
        const exact = names.find((n) => Object.hasOwn(obj, n));
        if (exact !== undefined) { out[field] = obj[exact]; continue; }
        let rank = Infinity;
        for (const key of Object.keys(obj)) {
          const r = names.findIndex((n) => n.toLowerCase() === key.toLowerCase());
          if (r >= 0 && r < rank) { rank = r; out[field] = obj[key]; }
        }
      }
      return out;
    };
    const spellings = (aliases: Record<string, string[]>) => Object.values(aliases).flat();
    // Keys: aliases as written, in other cases, and unrelated keys; each value is valid for any field (a string that is also a URL).
    const keyOf = (names: string[]) => fc.oneof(
      fc.constantFrom(...names),
      fc.tuple(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 16, maxLength: 16 })).map(([n, up]) => [...n].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join('')),
      fc.constantFrom('extra', 'Other', 'guest_id'),
    );
    const objectOf = (names: string[]) => fc.uniqueArray(keyOf(names), { maxLength: 10 }).map((keys) => Object.fromEntries(keys.map((k, i) => [k, `unix:///v${i}`])));
    fc.assert(fc.property(objectOf(spellings(requestAliases)), (obj) => {
      const expected = rule(obj, requestAliases);
      assert.deepEqual(decodeRequest(obj), decodeRequest({ id: '', ...expected }));
    }), { numRuns: 2000 });
    fc.assert(fc.property(objectOf(spellings(responseAliases)), (obj) => {
      const expected = rule(obj, responseAliases);
      assert.deepEqual(decodeResponse(obj), decodeResponse({ id: '', ...expected }));
    }), { numRuns: 2000 });
  });

  it('puts requests and responses together with the bytes JSON.stringify writes for them, whatever the members: property test', () => {
    const urls = fc.oneof(fc.constant(null), fc.constantFrom('unix:///tmp/a%20b/c.sock', 'http://127.0.0.1:4080/r?x=1#f', 'https://h.example/p%C3%BC', 'unix://asdf').map((u) => new URL(u)));
    const values = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.string({ unit: 'binary' }), fc.constant(() => 1), fc.constant(new Date(0)));
    const options = fc.record({ urlForm: fc.constantFrom('object' as const, 'string' as const), legacyStreamKey: fc.boolean() });
    // The object each was serialised from before (writeWireUrl's value for each URL).
    const requestObject = (r: Request, o: { urlForm: 'object' | 'string'; legacyStreamKey: boolean }) => {
      const out: Record<string, unknown> = { id: r.id, task: r.task, taskURL: writeWireUrl(r.taskURL, o.urlForm), responseHook: writeWireUrl(r.responseHook, o.urlForm), streamURL: writeWireUrl(r.streamURL, o.urlForm) };
      if (o.legacyStreamKey) out.stream_url = out.streamURL;
      out.args = r.args === undefined ? null : r.args;
      return JSON.stringify(out);
    };
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string(), urls, urls, urls, values, options, (id, task, taskURL, responseHook, streamURL, args, o) => {
      const request = { id, task, taskURL, responseHook, streamURL, args } as Request;
      assert.equal(encodeRequest(request, o), requestObject(request, o));
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string(), urls, values, options, (id, error, streamURL, result, o) => {
      const response = { id, error, streamURL, result } as Response;
      const out: Record<string, unknown> = { error, id, result: result === undefined ? null : result, streamURL: writeWireUrl(streamURL, o.urlForm) };
      if (o.legacyStreamKey) out.stream_url = out.streamURL;
      assert.equal(encodeResponse(response, o), JSON.stringify(out));
    }), { numRuns: 2000 });
  });

  it('reads URL strings and writes Go paths as before the fast paths (host placeholder, percent-decoding, path escaping): property test', () => {
    // The rules as they were written before: a pattern for the empty host, decodeURIComponent always, every segment encoded.
    const placeholder = (text: string) => text.replace(/^(https?):\/\/(?=[:/?#]|$)/i, '$1://localhost');
    const reference = (text: string): string => {
      if (!/^([a-zA-Z][a-zA-Z0-9+.-]*):/.test(text)) return 'ERR_BAD_URL';
      let url: URL;
      try {
        url = new URL(placeholder(text));
        decodeURIComponent(url.pathname);
        if (url.hash) decodeURIComponent(url.hash.slice(1));
      } catch {
        return 'ERR_BAD_URL';
      }
      return url.href;
    };
    const read = (text: string): string => {
      try {
        return readWireUrl(text, 'hook')!.href;
      } catch (err) {
        return (err as CoordinatorError).code;
      }
    };
    const piece = fc.constantFrom('http', 'HTTPS', 'https', 'hTtp', 'unix', 'ftp', 'h', 'httpx', ':', '://', '//', '/', ':8080', '?', '#', 'localhost', '127.0.0.1', '%', '%2F', '%zz', '%C3%BC', '%E0%A4%A', 'a b', 'ü', '@');
    const texts = fc.oneof(fc.array(piece, { maxLength: 7 }).map((p) => p.join('')), fc.string({ unit: 'binary', maxLength: 20 }));
    fc.assert(fc.property(texts, (text) => {
      if (text === '') return;
      assert.equal(read(text), reference(text), text);
    }), { numRuns: 5000 });
    const segments = fc.array(fc.oneof(fc.constantFrom('a', 'tmp', 'x.sock', '', ' ', '%', "it's", '(1)', '~', '*', '!', 'ü', '?', '#', ';', '+', '$'), fc.string({ maxLength: 4 })), { maxLength: 5 });
    fc.assert(fc.property(segments, (parts) => {
      const socketPath = `/${parts.join('/')}`;
      const url = unixUrl(socketPath);
      assert.equal(url.href, new URL(`unix://${socketPath.split('/').map(encodeURIComponent).join('/')}`).href);
      const go = toGoObject(url);
      const canonical = go.Path.split('/').map(encodeURIComponent).join('/');
      assert.equal(go.RawPath, canonical === url.pathname ? '' : url.pathname);
    }), { numRuns: 3000 });
  });
});
