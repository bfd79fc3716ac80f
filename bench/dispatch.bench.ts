// In-process dispatch through the full hook pipeline (onRequest, resolveProvider,
// tracker, onResponse, delivery) vs a plain async function doing the same work.
import { createCoordinator, definePlugin, inProcessProvider } from './subject.js';
import { compare, measure } from './support.js';

export async function run(): Promise<void> {
  const work = (args: { n: number }) => args.n + 1;
  const passthrough = definePlugin({ name: 'passthrough', apply(api) { api.hooks.onRequest.tap(api.name, (r) => r); api.hooks.onResponse.tap(api.name, (r) => r); } });
  const runtime = createCoordinator({ logLevel: 'silent', plugins: [] }).use(passthrough).use(inProcessProvider({ tasks: { Work: work } }));
  await runtime.start();
  const count = 50_000;
  for (const concurrency of [1, 64]) {
    await compare(
      `in-process dispatch, ${concurrency} in flight`,
      () => measure('plain async function', async () => work({ n: 1 }), count, concurrency),
      () => measure('runtime.call through the pipeline', () => runtime.call('Work', { n: 1 }), count, concurrency),
    );
  }
  await runtime.stop();
}
