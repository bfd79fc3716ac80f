import assert from 'node:assert/strict';
import { createCoordinator, definePlugin, inProcessProvider, CoordinatorError, type Provider, type Request } from '../../index.js';
import { makeRuntime, delay, captureLogger } from '../support/runtime.js';

function rejectsWith(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof CoordinatorError, `expected CoordinatorError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('runtime: hooks', () => {
  it('runs onRequest taps as a waterfall in stage order, each seeing the previous rewrite', async () => {
    const seen: string[] = [];
    const rewriter = (name: string, stage: number) => definePlugin({
      name,
      apply(api) {
        api.hooks.onRequest.tap({ name, stage }, (request) => {
          seen.push(`${name}:${JSON.stringify(request.args)}`);
          return { ...request, args: [...(request.args as string[]), name] };
        });
      },
    });
    const runtime = makeRuntime({}, [
      rewriter('second', 10),
      rewriter('first', -10),
      inProcessProvider({ tasks: { Echo: (args) => args } }),
    ]);
    await runtime.start();
    const result = await runtime.call('Echo', []);
    assert.deepEqual(result, ['first', 'second']);
    assert.deepEqual(seen, ['first:[]', 'second:["first"]']);
    await runtime.stop();
  });

  it('lets an onRequest tap reject a request with its own code', async () => {
    const guard = definePlugin({
      name: 'guard',
      apply(api) {
        api.hooks.onRequest.tap(api.name, (request) => {
          if (request.task === 'Forbidden') throw new CoordinatorError('ERR_REJECTED', 'guard: task Forbidden is not allowed');
          return request;
        });
      },
    });
    const runtime = makeRuntime({}, [guard, inProcessProvider({ tasks: { Forbidden: () => 1 } })]);
    await runtime.start();
    const response = await runtime.inject({ task: 'Forbidden', id: 'r1' });
    assert.equal(response.errorCode, 'ERR_REJECTED');
    assert.equal(response.error, 'guard: task Forbidden is not allowed');
    assert.equal(response.id, 'r1');
    await runtime.stop();
  });

  it('resolveProvider bails at the first tap returning a provider', async () => {
    const calls: string[] = [];
    const makeResolver = (name: string, stage: number, answer: boolean) => definePlugin({
      name,
      apply(api) {
        api.hooks.resolveProvider.tap({ name, stage }, (request): Provider | undefined => {
          calls.push(name);
          if (!answer) return undefined;
          return {
            name, transport: 'inproc',
            async send(req: Request) { setImmediate(() => api.runtime.receiveResponse({ id: req.id, result: name, streamURL: null, error: '' })); },
          };
        });
      },
    });
    const runtime = makeRuntime({}, [makeResolver('a', 1, false), makeResolver('b', 2, true), makeResolver('c', 3, true)]);
    await runtime.start();
    assert.equal(await runtime.call('Anything'), 'b');
    assert.deepEqual(calls, ['a', 'b']);
    await runtime.stop();
  });

  it('onResponse taps rewrite responses before delivery', async () => {
    const audit = definePlugin({
      name: 'audit',
      apply(api) {
        api.hooks.onResponse.tap(api.name, (response, ctx) => ({ ...response, result: { task: ctx.request.task, value: response.result } }));
      },
    });
    const runtime = makeRuntime({}, [audit, inProcessProvider({ tasks: { Two: () => 2 } })]);
    await runtime.start();
    assert.deepEqual(await runtime.call('Two'), { task: 'Two', value: 2 });
    await runtime.stop();
  });

  it('onStream taps see a stream URL crossing a boundary', async () => {
    const crossings: string[] = [];
    const streams = definePlugin({
      name: 'streams',
      apply(api) {
        api.hooks.onStream.tap(api.name, (url, ctx) => {
          crossings.push(`${ctx.direction}:${ctx.to}:${url.href}`);
          const rewritten = new URL(url.href);
          rewritten.searchParams.set('seen', ctx.direction);
          return rewritten;
        });
      },
    });
    const runtime = makeRuntime({}, [streams, inProcessProvider({ tasks: { S: (_args, ctx) => ({ streamURL: new URL(`unix:///out.sock?in=${ctx.request.streamURL?.searchParams.get('seen')}`) }) } })]);
    await runtime.start();
    const response = await runtime.inject({ task: 'S', streamURL: new URL('unix:///in.sock') });
    assert.equal(response.streamURL?.href, 'unix:///out.sock?in=request&seen=response');
    assert.deepEqual(crossings, ['request:inproc:unix:///in.sock', 'response:inproc:unix:///out.sock?in=request']);
    await runtime.stop();
  });

  it('onEvent taps run in parallel and a failing tap does not stop the others', async () => {
    const got: string[] = [];
    const listener = (name: string, fail: boolean) => definePlugin({
      name,
      apply(api) {
        api.hooks.onEvent.tapPromise(api.name, async (event) => {
          if (fail) throw new Error('listener broke');
          got.push(`${name}:${event.type}`);
        });
      },
    });
    const runtime = makeRuntime({}, [listener('ok', false), listener('broken', true)]);
    await runtime.start();
    await runtime.emit({ type: 'provider.up', at: Date.now(), data: {} });
    assert.deepEqual(got, ['ok:provider.up']);
    await runtime.stop();
  });

  it('runs start in registration order and drain/stop in reverse', async () => {
    const order: string[] = [];
    const p = (name: string) => definePlugin({
      name,
      apply(api) {
        api.onStart(() => { order.push(`start:${name}`); });
        api.onDrain(() => { order.push(`drain:${name}`); });
        api.onStop(() => { order.push(`stop:${name}`); });
      },
    });
    const runtime = makeRuntime({}, [p('a'), p('b'), p('c')]);
    await runtime.start();
    await runtime.stop();
    assert.deepEqual(order, ['start:a', 'start:b', 'start:c', 'drain:c', 'drain:b', 'drain:a', 'stop:c', 'stop:b', 'stop:a']);
  });

  it('refuses a tap after start, naming the plugin', async () => {
    let api: Parameters<Parameters<typeof definePlugin>[0]['apply']>[0] | undefined;
    const late = definePlugin({ name: 'late', apply(a) { api = a; } });
    const runtime = makeRuntime({}, [late]);
    await runtime.start();
    assert.throws(() => api!.hooks.onRequest.tap('late', (r) => r), rejectsWith('ERR_TAP_AFTER_START', /plugin late tapped onRequest after start/));
    await runtime.stop();
  });

  it('names the plugin whose tap throws or times out', async () => {
    const thrower = definePlugin({ name: 'thrower', apply(api) { api.hooks.onRequest.tapPromise(api.name, async () => { throw new Error('kaput'); }); } });
    const runtime = makeRuntime({}, [thrower]);
    await runtime.start();
    const response = await runtime.inject({ task: 'X' });
    assert.equal(response.errorCode, 'ERR_HOOK_FAILED');
    // Peers see which plugin failed, never the JavaScript message (that goes to the log).
    assert.equal(response.error, 'plugin thrower failed in onRequest');
    await runtime.stop();

    const slow = definePlugin({ name: 'slowpoke', apply(api) { api.hooks.onRequest.tapPromise(api.name, () => new Promise(() => undefined)); } });
    const runtime2 = makeRuntime({ hookTimeoutMs: 50 }, [slow]);
    await runtime2.start();
    const r2 = await runtime2.inject({ task: 'X' });
    assert.equal(r2.errorCode, 'ERR_HOOK_TIMEOUT');
    assert.match(r2.error, /plugin slowpoke did not finish onRequest within 50 ms/);
    await runtime2.stop();
  });

  it('fails start when a plugin start times out, naming it, and stops what started', async () => {
    const stopped: string[] = [];
    const good = definePlugin({ name: 'good', apply(api) { api.onStop(() => { stopped.push('good'); }); } });
    const hang = definePlugin({ name: 'hang', apply(api) { api.onStart(() => new Promise(() => undefined)); } });
    const runtime = makeRuntime({ lifecycleTimeoutMs: 50 }, [good, hang]);
    await assert.rejects(runtime.start(), rejectsWith('ERR_HOOK_TIMEOUT', /plugin hang did not finish start/));
    assert.deepEqual(stopped, ['good']);
    assert.equal(runtime.status, 'stopped');
  });
});

// A service declared the way plugin authors declare theirs.
declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'base.greeting': { hello(): string };
  }
}

describe('runtime: plugins', () => {
  const base = definePlugin({ name: 'base', apply(api) { api.provide('base.greeting', { hello: () => 'hi' }); } });

  it('refuses a plugin whose dependency is not registered first, naming both', () => {
    const dependent = definePlugin({ name: 'dependent', dependencies: ['base'], apply() {} });
    const runtime = makeRuntime();
    assert.throws(() => runtime.use(dependent), rejectsWith('ERR_PLUGIN_DEPENDENCY', /plugin dependent needs plugin base/));
  });

  it('refuses the same plugin twice', () => {
    const runtime = makeRuntime({}, [base]);
    assert.throws(() => runtime.use(base), rejectsWith('ERR_PLUGIN_DUPLICATE', /plugin base is registered twice/));
  });

  it('shares a typed service between plugins that declare the dependency', async () => {
    let greeting = '';
    const dependent = definePlugin({
      name: 'dependent', dependencies: ['base'],
      apply(api) {
        api.onStart(() => { greeting = api.service('base.greeting').hello(); });
        // A wrong name or a wrong type does not compile.
        // @ts-expect-error: not a declared service
        if (greeting === 'never') api.service('base.greting');
        // @ts-expect-error: the declared type has no goodbye()
        if (greeting === 'never') api.service('base.greeting').goodbye();
        // @ts-expect-error: provide checks the value's type
        if (greeting === 'never') api.provide('base.greeting', { hello: 42 });
      },
    });
    const runtime = makeRuntime({}, [base, dependent]);
    await runtime.start();
    assert.equal(greeting, 'hi');
    await runtime.stop();
  });

  it('validates plugin options with the plugin schema before apply, naming the option path', async () => {
    let applied = false;
    const limited = definePlugin<{ max: number }>({
      name: 'limited',
      optionsSchema: { type: 'object', properties: { max: { type: 'integer', maximum: 100, default: 10 } }, additionalProperties: false },
      apply(_api, options) { applied = options.max === 10; },
    });
    const bad = makeRuntime({}, [limited({ max: 1000 })]);
    await assert.rejects(bad.start(), rejectsWith('ERR_PLUGIN_OPTIONS', /plugins\.limited\.max: must be <= 100/));
    const good = makeRuntime({}, [limited()]);
    await good.start();
    assert.equal(applied, true, 'schema default applied');
    await good.stop();
  });

  it('refuses plugins registered after start', async () => {
    const runtime = makeRuntime();
    await runtime.start();
    assert.throws(() => runtime.use(base), rejectsWith('ERR_TAP_AFTER_START'));
    await runtime.stop();
  });
});

describe('runtime: requests and tracking', () => {
  it('answers ERR_NO_PROVIDER naming the task, and validates id, task and hook', async () => {
    const runtime = makeRuntime();
    await runtime.start();
    const r = await runtime.inject({ task: 'Nope', id: 'n1' });
    assert.equal(r.errorCode, 'ERR_NO_PROVIDER');
    assert.equal(r.error, 'no providers available for task');
    await assert.rejects(runtime.dispatch({ id: '', task: 'T', taskURL: null, responseHook: new URL('inproc://runtime/x'), streamURL: null, args: null }), rejectsWith('ERR_MISSING_ID'));
    await assert.rejects(runtime.dispatch({ id: 'a', task: '', taskURL: null, responseHook: new URL('inproc://runtime/x'), streamURL: null, args: null }), rejectsWith('ERR_MISSING_TASK'));
    await assert.rejects(runtime.dispatch({ id: 'a', task: 'T', taskURL: null, responseHook: null, streamURL: null, args: null }), rejectsWith('ERR_MISSING_RESPONSE_HOOK'));
    await assert.rejects(runtime.dispatch({ id: 'a', task: 'T', taskURL: null, responseHook: new URL('ftp://x/'), streamURL: null, args: null }), rejectsWith('ERR_UNKNOWN_SCHEME'));
    await runtime.stop();
  });

  it('refuses dispatch before start and after stop', async () => {
    const runtime = makeRuntime();
    const before = await runtime.inject({ task: 'T' });
    assert.equal(before.errorCode, 'ERR_NOT_STARTED');
    await runtime.start();
    await runtime.stop();
    const after = await runtime.inject({ task: 'T' });
    assert.equal(after.errorCode, 'ERR_SHUTTING_DOWN');
  });

  it('times out a silent provider with ERR_TIMEOUT, default and per-request, and drops the late answer', async () => {
    let lateId = '';
    const runtime = makeRuntime({ requestTimeoutMs: 80 }, [inProcessProvider({ tasks: { Silent: async (_a, ctx) => { lateId = ctx.request.id; await delay(300); return 'late'; } } })]);
    await runtime.start();
    const t0 = Date.now();
    const r = await runtime.inject({ task: 'Silent' });
    assert.equal(r.error, 'response timeout');
    assert.equal(r.errorCode, 'ERR_TIMEOUT');
    assert.ok(Date.now() - t0 >= 70);
    const perRequest = await runtime.inject({ task: 'Silent' }, { timeoutMs: 20 });
    assert.equal(perRequest.errorCode, 'ERR_TIMEOUT');
    await delay(350);
    assert.equal(runtime.receiveResponse({ id: lateId, result: 'again', streamURL: null, error: '' }), false, 'late answer finds nothing');
    assert.equal(runtime.inFlight, 0);
    await runtime.stop();
  });

  it('refuses a duplicate id while the first is in flight and still answers the first', async () => {
    const runtime = makeRuntime({}, [inProcessProvider({ tasks: { Slow: async () => { await delay(50); return 'first'; } } })]);
    await runtime.start();
    const first = runtime.inject({ task: 'Slow', id: 'dup' });
    await delay(5);
    const second = await runtime.inject({ task: 'Slow', id: 'dup' });
    assert.equal(second.errorCode, 'ERR_DUPLICATE_ID');
    assert.equal(second.error, 'request id already tracked');
    const firstResponse = await first;
    assert.equal(firstResponse.result, 'first');
    assert.equal(firstResponse.error, '');
    await runtime.stop();
  });

  it('fans out with mixed success, error and timeout, results keyed by name', async () => {
    const runtime = makeRuntime({}, [inProcessProvider({
      tasks: {
        Ok: (args: { n: number }) => args.n * 2,
        Fail: () => { throw new Error('disk on fire'); },
        Never: () => new Promise(() => undefined),
      },
    })]);
    await runtime.start();
    const results = await runtime.fanOut({ ok: { task: 'Ok', args: { n: 21 } }, bad: { task: 'Fail' }, quiet: { task: 'Never' }, missing: { task: 'Unknown' } }, { timeoutMs: 60 });
    assert.deepEqual(Object.keys(results).sort(), ['bad', 'missing', 'ok', 'quiet']);
    assert.equal(results.ok!.result, 42);
    assert.equal(results.bad!.error, 'disk on fire');
    assert.equal(results.quiet!.error, 'response timeout');
    assert.equal(results.missing!.errorCode, 'ERR_NO_PROVIDER');
    await runtime.stop();
  });

  it('fans out more than 100 members (the original deadlocked past 100)', async () => {
    const runtime = makeRuntime({}, [inProcessProvider({ tasks: { Id: (args: number) => args } })]);
    await runtime.start();
    const members = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`m${i}`, { task: 'Id', args: i }]));
    const results = await runtime.fanOut(members);
    assert.equal(Object.keys(results).length, 250);
    assert.equal(results.m249!.result, 249);
    await runtime.stop();
  });

  it('stop() lets in-flight requests finish within the drain deadline and answers the rest with ERR_SHUTTING_DOWN', async () => {
    const runtime = makeRuntime({ drainTimeoutMs: 150 }, [inProcessProvider({
      tasks: { Quick: async () => { await delay(30); return 'done'; }, Stuck: () => new Promise(() => undefined) },
    })]);
    await runtime.start();
    const quick = runtime.inject({ task: 'Quick' });
    const stuck = runtime.inject({ task: 'Stuck' });
    await delay(5);
    const t0 = Date.now();
    await runtime.stop();
    const elapsed = Date.now() - t0;
    assert.equal((await quick).result, 'done');
    const stuckResponse = await stuck;
    assert.equal(stuckResponse.errorCode, 'ERR_SHUTTING_DOWN');
    assert.equal(stuckResponse.error, 'coordinator shutting down');
    assert.ok(elapsed >= 140 && elapsed < 2000, `drained for ${elapsed} ms`);
    assert.equal(runtime.inFlight, 0);
    assert.equal(runtime.status, 'stopped');
  });

  it('stop() waits for response deliveries under way, and names those still going at its deadline', async () => {
    // A delivery scheme of our own: each delivery takes the time its hook's host names.
    const delivered: string[] = [];
    const slowHooks = definePlugin({
      name: 'slow-hooks',
      apply(api) {
        api.registerDelivery('slow', { deliver: async (hook, response) => { await delay(Number(hook.hostname)); delivered.push(response.id); } });
      },
    });
    const { logger, captured } = captureLogger('info');
    const runtime = createCoordinator({ plugins: [], stopTimeoutMs: 1000 }, { logger, env: {} }).use(slowHooks).use(inProcessProvider({ tasks: { Echo: (args) => args } }));
    await runtime.start();
    const request = (id: string, ms: number): Request => ({ id, task: 'Echo', taskURL: null, responseHook: new URL(`slow://${ms}/`), streamURL: null, args: id });
    await Promise.all([runtime.dispatch(request('quick', 100)), runtime.dispatch(request('quick2', 300)), runtime.dispatch(request('endless', 5000))]);
    await delay(10);
    const t0 = Date.now();
    await runtime.stop();
    const elapsed = Date.now() - t0;
    assert.deepEqual(delivered, ['quick', 'quick2'], 'the deliveries that end before the deadline are waited for');
    assert.ok(elapsed >= 900 && elapsed < 3000, `stopped after ${elapsed} ms`);
    const [stopped] = captured.find('coordinator stopped; some work was cut at the deadline');
    assert.ok(stopped, captured.text());
    assert.deepEqual(stopped.whatWasCut, ['1 response deliveries']);
  });

  it('stop() returns at once when nothing is in flight and is idempotent', async () => {
    const runtime = makeRuntime({ drainTimeoutMs: 5000 });
    await runtime.start();
    const t0 = Date.now();
    await Promise.all([runtime.stop(), runtime.stop()]);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('CoordinatorError is recognised across copies through its Symbol.for marker', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('coordinator-runtime.error')]: true });
    assert.ok(foreign instanceof CoordinatorError);
    assert.ok(!(new Error('y') instanceof CoordinatorError));
  });
});
