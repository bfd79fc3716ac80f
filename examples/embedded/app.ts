// A Node app that embeds the coordinator runtime: no socket, no config file.
// Run: npx tsx examples/embedded/app.ts
import { createCoordinator, definePlugin, inProcessProvider } from '../../index.js';

// A custom plugin: stamps every response with how long the request took.
const timing = definePlugin({
  name: 'timing',
  apply(api) {
    api.hooks.onResponse.tap(api.name, (response, ctx) => ({
      ...response,
      result: { value: response.result, tookMs: Date.now() - ctx.requestContext.receivedAt },
    }));
  },
});

const runtime = createCoordinator({ logLevel: 'warn', plugins: [] })
  .use(timing)
  .use(inProcessProvider({
    tasks: {
      Add: (args: { a: number; b: number }) => args.a + args.b,
      // A task can make further requests through the runtime (fan-out).
      Sum3: async (args: number[], ctx) => {
        const parts = await ctx.runtime.fanOut({
          first: { task: 'Add', args: { a: args[0], b: args[1] } },
          second: { task: 'Add', args: { a: 0, b: args[2] } },
        });
        const value = (r: { result: unknown }) => (r.result as { value: number }).value;
        return value(parts.first!) + value(parts.second!);
      },
    },
  }));

await runtime.start();
console.log('Add  ->', await runtime.call('Add', { a: 2, b: 3 }));
console.log('Sum3 ->', await runtime.call('Sum3', [1, 2, 3]));
const missing = await runtime.inject({ task: 'Nope' });
console.log('Nope ->', missing.errorCode, `"${missing.error}"`);
await runtime.stop();
