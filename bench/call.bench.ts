// P2: an in-process call through the whole pipeline (one plugin tapping
// onRequest, the in-process provider) vs Moleculer's local broker.call with
// one middleware, in the same process. Target: ratio ≥ 0.25.
import { ServiceBroker, type ActionHandler, type Context } from 'moleculer';
import { createCoordinator, definePlugin, inProcessProvider } from './subject.js';
import { compare, measure } from './support.js';

export async function run(): Promise<void> {
  const broker = new ServiceBroker({ logger: false, metrics: false, tracing: false, middlewares: [{ localAction: (next: ActionHandler) => (ctx: Context) => next(ctx) }] });
  broker.createService({ name: 'math', actions: { add: (ctx: { params: { a: number; b: number } }) => ctx.params.a + ctx.params.b } });
  await broker.start();
  const passthrough = definePlugin({ name: 'passthrough', apply(api) { api.hooks.onRequest.tap(api.name, (r) => r); } });
  const runtime = createCoordinator({ logLevel: 'silent', plugins: [] }).use(passthrough).use(inProcessProvider({ tasks: { Add: (args: { a: number; b: number }) => args.a + args.b } }));
  await runtime.start();
  const count = 100_000;
  try {
    for (const concurrency of [1, 64]) {
      const result = await compare(
        `in-process call, ${concurrency} in flight (target ≥ 0.25)`,
        () => measure('moleculer broker.call + middleware', () => broker.call('math.add', { a: 1, b: 2 }), count, concurrency),
        () => measure('runtime.call through the pipeline', () => runtime.call('Add', { a: 1, b: 2 }), count, concurrency),
        5,
        { target: 0.25, warmup: 1 },
      );
      console.log(`target ≥ 0.25: ${result.ratio >= 0.25 ? 'pass' : 'FAIL'}`);
    }
  } finally {
    await runtime.stop();
    await broker.stop();
  }
}
